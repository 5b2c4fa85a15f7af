package io.umdev.simnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.mdev.AttributeSpec;
import io.umdev.mdev.CreateRequest;
import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.MdevBus;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevInstance;
import io.umdev.mdev.MdevType;
import io.umdev.mdev.ParentDevice;
import io.umdev.mdev.ParentEnvironment;
import io.umdev.mdev.ParentProvider;
import io.umdev.simnet.l2.Ethernet;
import io.umdev.virtio.spec.NetSpec;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class SimNetParentTest {
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void serviceLoaderFindsTheSimNetParentAndItsNetType() {
        List<ParentDevice> parents = ServiceLoader.load(ParentProvider.class).stream()
                .flatMap(p -> p.get().parents(new ParentEnvironment(Path.of("/nonexistent"))).stream())
                .filter(p -> p.name().equals(SimNetParent.NAME)).toList();
        assertEquals(1, parents.size());
        MdevType net = parents.getFirst().types().getFirst();
        assertEquals(SimNetParent.TYPE, net.name());
        assertEquals(DeviceApi.VIRTIO, net.deviceApi());
        assertEquals(List.of("mac", "mtu", "max_vqp", "mode", "switch", "poll_us"),
                net.attributes().stream().map(AttributeSpec::name).toList());
    }

    @Test
    void anInstanceWithDefaultsIsAVirtioNetDeviceWithADerivedAddress() throws Exception {
        try (MdevBus bus = new MdevBus()) {
            bus.addParent(new SimNetParent());
            UUID uuid = UUID.fromString("7e700000-0000-4000-8000-000000000000");
            MdevInstance instance = bus.create(CreateRequest.of(SimNetParent.NAME, SimNetParent.TYPE).withUuid(uuid));
            VirtioDevice device = instance.device().unwrap(VirtioDevice.class).orElseThrow();
            assertEquals(VirtioId.NET, device.deviceId());
            assertEquals(3, device.queueCount());
            long features = device.deviceFeatures();
            for (int bit : new int[] {VirtioFeature.VERSION_1, NetSpec.F_MAC, NetSpec.F_MTU, NetSpec.F_STATUS,
                    NetSpec.F_CTRL_VQ, NetSpec.F_CTRL_RX, NetSpec.F_CTRL_MAC_ADDR, NetSpec.F_MQ}) {
                assertTrue(VirtioFeature.has(features, bit), "feature bit " + bit);
            }
            for (int bit : new int[] {NetSpec.F_CSUM, NetSpec.F_GUEST_CSUM, NetSpec.F_HOST_TSO4, NetSpec.F_MRG_RXBUF}) {
                assertFalse(VirtioFeature.has(features, bit), "offload bit " + bit + " is not implemented");
            }
            MemorySegment config = MemorySegment.ofArray(new byte[device.configSize()]);
            device.readConfig(0, config);
            long mac = Ethernet.address(config, NetSpec.CONFIG_MAC);
            assertEquals(SimNetSettings.derivedMac(uuid), mac);
            assertTrue((mac & Ethernet.LOCAL_BIT) != 0 && !Ethernet.isGroup(mac), "locally administered unicast");
            assertEquals(NetSpec.STATUS_LINK_UP, config.get(LE16, NetSpec.CONFIG_STATUS));
            assertEquals(1, config.get(LE16, NetSpec.CONFIG_MAX_VIRTQUEUE_PAIRS));
            assertEquals(1500, config.get(LE16, NetSpec.CONFIG_MTU));
            assertEquals(null, instance.device().unwrap(SimNetDevice.class).orElseThrow().port().mailbox(0),
                    "an instance no driver has started holds no frame buffers");
            assertEquals(1, device.queueGroup(2));
            assertEquals(0, device.queueGroup(0));

            bus.remove(uuid);
            MdevInstance again = bus.create(CreateRequest.of(SimNetParent.NAME, SimNetParent.TYPE).withUuid(uuid));
            MemorySegment config2 = MemorySegment.ofArray(new byte[device.configSize()]);
            again.device().unwrap(VirtioDevice.class).orElseThrow().readConfig(0, config2);
            assertEquals(mac, Ethernet.address(config2, NetSpec.CONFIG_MAC), "the address is stable per UUID");
        }
    }

    @Test
    void attributesShapeTheDevice() throws Exception {
        try (MdevBus bus = new MdevBus()) {
            bus.addParent(new SimNetParent());
            MdevInstance instance = bus.create(CreateRequest.of(SimNetParent.NAME, SimNetParent.TYPE)
                    .withAttribute("mac", "52:54:00:12:34:56").withAttribute("mtu", "9000")
                    .withAttribute("max_vqp", "4").withAttribute("mode", "loopback"));
            VirtioDevice device = instance.device().unwrap(VirtioDevice.class).orElseThrow();
            assertEquals(9, device.queueCount());
            MemorySegment config = MemorySegment.ofArray(new byte[device.configSize()]);
            device.readConfig(0, config);
            assertEquals(0x52_54_00_12_34_56L, Ethernet.address(config, NetSpec.CONFIG_MAC));
            assertEquals(4, config.get(LE16, NetSpec.CONFIG_MAX_VIRTQUEUE_PAIRS));
            assertEquals(9000, Short.toUnsignedInt(config.get(LE16, NetSpec.CONFIG_MTU)));
            assertTrue(instance.device().unwrap(SimNetDevice.class).orElseThrow().port().isLoopback());
            assertTrue(instance.device().statistics().containsKey("tx3.packets"));
        }
    }

    @Test
    void badAttributesAreRefusedNamingTheAttribute() throws Exception {
        try (MdevBus bus = new MdevBus()) {
            bus.addParent(new SimNetParent());
            for (String[] bad : new String[][] {{"mtu", "67"}, {"mtu", "70000"}, {"max_vqp", "0"},
                    {"max_vqp", "17"}, {"mode", "hub"}, {"mac", "01:00:5e:00:00:01"}}) {
                MdevException refused = assertThrows(MdevException.class, () -> bus.create(
                        CreateRequest.of(SimNetParent.NAME, SimNetParent.TYPE).withAttribute(bad[0], bad[1])));
                assertEquals(Errno.EINVAL, refused.errno(), String.join("=", bad));
                assertEquals("attrs." + bad[0], refused.field().orElseThrow());
            }
            MdevException both = assertThrows(MdevException.class, () -> bus.create(
                    CreateRequest.of(SimNetParent.NAME, SimNetParent.TYPE).withAttribute("mode", "loopback")
                            .withAttribute("switch", "lan")));
            assertEquals("attrs.switch", both.field().orElseThrow());
            assertEquals(0, bus.instanceCount());
        }
    }

    @Test
    void instancesOnOneSwitchShareItUntilTheLastGoes() throws Exception {
        SimNetParent parent = new SimNetParent();
        try (MdevBus bus = new MdevBus()) {
            bus.addParent(parent);
            MdevInstance a = bus.create(CreateRequest.of(SimNetParent.NAME, SimNetParent.TYPE));
            MdevInstance b = bus.create(CreateRequest.of(SimNetParent.NAME, SimNetParent.TYPE));
            bus.create(CreateRequest.of(SimNetParent.NAME, SimNetParent.TYPE).withAttribute("mode", "loopback"));
            assertEquals(1, parent.switches().count());
            assertEquals(2, parent.switches().get(SimNetSettings.DEFAULT_SWITCH).orElseThrow().portCount());
            bus.remove(a.uuid());
            bus.remove(b.uuid());
            assertEquals(0, parent.switches().count());
        }
    }
}

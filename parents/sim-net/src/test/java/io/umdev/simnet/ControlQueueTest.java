package io.umdev.simnet;

import static io.umdev.simnet.SimNetFixture.PEER;
import static io.umdev.simnet.SimNetFixture.frame;
import static io.umdev.simnet.SimNetFixture.mac;
import static io.umdev.simnet.SimNetFixture.receive;
import static io.umdev.simnet.SimNetFixture.stat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.mdev.MacAddress;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevInstance;
import io.umdev.simnet.l2.Ethernet;
import io.umdev.virtio.driver.BufferChain;
import io.umdev.virtio.driver.DriverOptions;
import io.umdev.virtio.driver.DriverQueue;
import io.umdev.virtio.driver.VirtioDriver;
import io.umdev.virtio.driver.VirtioDriverException;
import io.umdev.virtio.driver.VirtioNetPort;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.NetSpec;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ControlQueueTest {
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private SimNetFixture fixture;
    private final MemorySegment received = MemorySegment.ofArray(new byte[2048]);

    @BeforeEach
    void create() throws Exception {
        fixture = new SimNetFixture();
    }

    @AfterEach
    void close() throws Exception {
        fixture.close();
    }

    @Test
    void promiscuousModeLetsForeignFramesIn() throws Exception {
        MdevInstance instance = fixture.create(SimNetSettings.MODE, "loopback");
        VirtioNetPort port = fixture.open(instance);
        port.setPromiscuous(true);
        assertTrue(port.send(0, frame(PEER, PEER + 1, 64, 1)));
        assertEquals(64, receive(port, 0, received));
        port.setPromiscuous(false);
        assertTrue(port.send(0, frame(PEER, PEER + 1, 65, 1)));
        assertTrue(port.send(0, frame(mac(port), PEER + 1, 66, 1)));
        assertEquals(66, receive(port, 0, received));
        assertEquals(2, stat(instance, "ctrl.ok"));
    }

    @Test
    void macAddressSetMovesTheFilterAndTheConfigSpace() throws Exception {
        MdevInstance instance = fixture.create(SimNetSettings.MODE, "loopback");
        VirtioNetPort port = fixture.open(instance);
        long old = mac(port);
        MacAddress fresh = MacAddress.parse("02:aa:bb:cc:dd:ee");
        port.setMacAddress(fresh);
        MemorySegment config = MemorySegment.ofArray(new byte[Ethernet.ADDRESS_LENGTH]);
        SimNetFixture.virtio(instance).readConfig(NetSpec.CONFIG_MAC, config);
        assertEquals(fresh.value(), Ethernet.address(config, 0));
        assertTrue(port.send(0, frame(old, PEER, 70, 1)));
        assertTrue(port.send(0, frame(fresh.value(), PEER, 71, 1)));
        assertEquals(71, receive(port, 0, received));
        assertEquals(1, stat(instance, "port.filtered"));
    }

    @Test
    void aLiveUpdateChangesTheAddressAndRefusesFixedAttributes() throws Exception {
        MdevInstance instance = fixture.create(SimNetSettings.MODE, "loopback");
        VirtioNetPort port = fixture.open(instance);
        long old = mac(port);
        LinkedHashMap<String, String> attributes = new LinkedHashMap<>();
        attributes.put(SimNetSettings.MODE, "loopback");
        attributes.put(SimNetSettings.MAC, "02:00:00:00:12:34");
        fixture.bus.updateAttributes(instance.uuid(), attributes);
        MemorySegment config = MemorySegment.ofArray(new byte[Ethernet.ADDRESS_LENGTH]);
        SimNetFixture.virtio(instance).readConfig(NetSpec.CONFIG_MAC, config);
        assertEquals(0x02_00_00_00_12_34L, Ethernet.address(config, 0));
        assertTrue(port.send(0, frame(old, PEER, 80, 1)));
        assertTrue(port.send(0, frame(0x02_00_00_00_12_34L, PEER, 81, 1)));
        assertEquals(81, receive(port, 0, received));

        attributes.put(SimNetSettings.MTU, "9000");
        MdevException refused = assertThrows(MdevException.class,
                () -> fixture.bus.updateAttributes(instance.uuid(), attributes));
        assertEquals("attrs.mtu", refused.field().orElseThrow());
        assertEquals(1500, SimNetFixture.device(instance).port().maxFrameLength() - Ethernet.HEADER_LENGTH
                - Ethernet.VLAN_TAG_LENGTH);
    }

    @Test
    void macTableSetAddsAUnicastAddress() throws Exception {
        MdevInstance instance = fixture.create(SimNetSettings.MODE, "loopback");
        VirtioNetPort port = fixture.open(instance);
        long extra = 0x02_00_00_00_77_77L;
        MemorySegment tables = MemorySegment.ofArray(new byte[2 * NetSpec.CTRL_MAC_TABLE_ENTRIES_SIZE
                + Ethernet.ADDRESS_LENGTH]);
        tables.set(LE32, 0, 1);
        Ethernet.putAddress(tables, NetSpec.CTRL_MAC_TABLE_ENTRIES_SIZE, extra);
        tables.set(LE32, NetSpec.CTRL_MAC_TABLE_ENTRIES_SIZE + Ethernet.ADDRESS_LENGTH, 0);
        port.command(NetSpec.CTRL_MAC, NetSpec.CTRL_MAC_TABLE_SET, tables);
        assertTrue(port.send(0, frame(extra, PEER, 72, 1)));
        assertEquals(72, receive(port, 0, received));
    }

    @Test
    void queuePairsSetSpreadsTrafficOverThatManyPairsOnly() throws Exception {
        MdevInstance instance = fixture.create(SimNetSettings.MODE, "loopback", SimNetSettings.MAX_VQP, "4");
        VirtioNetPort port = fixture.open(instance);
        assertEquals(4, port.maxQueuePairs());
        port.setPromiscuous(true);
        // Before VQ_PAIRS_SET only pair 0 carries traffic: a frame sent on pair 2 is dropped.
        assertTrue(port.send(2, frame(PEER, PEER + 1, 60, 1)));
        SimNetFixture.await(() -> stat(instance, "tx2.drops") == 1, "the frame on an inactive pair to be dropped");
        port.setQueuePairs(3);
        assertEquals(3, SimNetFixture.device(instance).activePairs());
        int flows = 48;
        for (int i = 0; i < flows; i++) {
            assertTrue(port.send(i % 3, frame(PEER + i, PEER + 1000, 60, i)));
        }
        Set<Integer> pairsUsed = new HashSet<>();
        int got = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SimNetFixture.WAIT_SECONDS);
        while (got < flows && System.nanoTime() < deadline) {
            for (int pair = 0; pair < 4; pair++) {
                while (port.receive(pair, received) >= 0) {
                    pairsUsed.add(pair);
                    got++;
                }
            }
        }
        assertEquals(flows, got);
        assertTrue(pairsUsed.size() > 1, "48 flows all arrived on one pair: " + pairsUsed);
        assertTrue(!pairsUsed.contains(3), "pair 3 is not in use but received: " + pairsUsed);
        assertEquals(flows, stat(instance, "tx0.packets") + stat(instance, "tx1.packets")
                + stat(instance, "tx2.packets") - 1);
    }

    @Test
    void withoutMqTheControlQueueIsQueueTwoWhateverMaxVqpIs() throws Exception {
        MdevInstance instance = fixture.create(SimNetSettings.MODE, "loopback", SimNetSettings.MAX_VQP, "4");
        VirtioDevice device = SimNetFixture.virtio(instance);
        long wanted = VirtioFeature.bits(NetSpec.F_MAC, NetSpec.F_CTRL_VQ, NetSpec.F_CTRL_RX);
        try (VirtioDriver driver = VirtioDriver.open(device, wanted,
                DriverOptions.defaults().withTimeout(Duration.ofSeconds(SimNetFixture.WAIT_SECONDS)))) {
            assertFalse(driver.hasFeature(NetSpec.F_MQ));
            long command = driver.reserve(NetSpec.CTRL_HDR_SIZE + 1 + NetSpec.CTRL_ACK_SIZE, Long.BYTES);
            driver.start(NetSpec.ctrlQueue(1) + 1);
            assertEquals(1, device.queueGroup(NetSpec.ctrlQueue(1)));
            MemorySegment memory = driver.memory().segment();
            memory.set(ValueLayout.JAVA_BYTE, command + NetSpec.CTRL_HDR_CLASS, (byte) NetSpec.CTRL_RX);
            memory.set(ValueLayout.JAVA_BYTE, command + NetSpec.CTRL_HDR_COMMAND, (byte) NetSpec.CTRL_RX_PROMISC);
            memory.set(ValueLayout.JAVA_BYTE, command + NetSpec.CTRL_HDR_SIZE, (byte) 1);
            long ack = command + NetSpec.CTRL_HDR_SIZE + 1;
            memory.set(ValueLayout.JAVA_BYTE, ack, (byte) NetSpec.CTRL_ERR);
            DriverQueue ctrl = driver.queue(NetSpec.ctrlQueue(1));
            assertTrue(ctrl.add(new BufferChain(2).readable(driver.memory().iovaOf(command), NetSpec.CTRL_HDR_SIZE + 1)
                    .writable(driver.memory().iovaOf(ack), NetSpec.CTRL_ACK_SIZE), 0));
            ctrl.kick();
            assertTrue(ctrl.await(SimNetFixture.WAIT_SECONDS, TimeUnit.SECONDS));
            assertTrue(ctrl.poll() != DriverQueue.NONE);
            assertEquals(NetSpec.CTRL_OK, memory.get(ValueLayout.JAVA_BYTE, ack));
            assertTrue(SimNetFixture.device(instance).port().filter().promiscuous());
            assertFalse(DeviceStatus.has(device.status(), DeviceStatus.NEEDS_RESET));
            assertEquals(1, stat(instance, "ctrl.ok"));
        }
    }

    @Test
    void queuePairsBeyondTheOfferAreRefusedWithErr() throws Exception {
        MdevInstance instance = fixture.create(SimNetSettings.MAX_VQP, "2");
        VirtioNetPort port = fixture.open(instance);
        MemorySegment data = MemorySegment.ofArray(new byte[Short.BYTES]);
        data.set(LE16, 0, (short) 3);
        VirtioDriverException refused = assertThrows(VirtioDriverException.class,
                () -> port.command(NetSpec.CTRL_MQ, NetSpec.CTRL_MQ_VQ_PAIRS_SET, data));
        assertEquals(Errno.EIO, refused.errno());
        assertEquals(1, SimNetFixture.device(instance).activePairs());
        assertEquals(1, stat(instance, "ctrl.err"));
    }

    @Test
    void commandsOfFeaturesTheDriverDidNotNegotiateAreRefused() throws Exception {
        MdevInstance instance = fixture.create();
        VirtioNetPort port = fixture.open(instance); // this driver takes neither CTRL_VLAN nor CTRL_RX_EXTRA
        MemorySegment vid = MemorySegment.ofArray(new byte[Short.BYTES]);
        vid.set(LE16, 0, (short) 10);
        assertThrows(VirtioDriverException.class, () -> port.command(NetSpec.CTRL_VLAN, NetSpec.CTRL_VLAN_ADD, vid));
        MemorySegment on = MemorySegment.ofArray(new byte[] {1});
        assertThrows(VirtioDriverException.class, () -> port.command(NetSpec.CTRL_RX, NetSpec.CTRL_RX_NOBCAST, on));
        assertEquals(2, stat(instance, "ctrl.err"));
        // The device is still fine: it answers the next command.
        port.setAllMulticast(true);
        assertEquals(1, stat(instance, "ctrl.ok"));
    }
}

package io.umdev.virtio.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.mdev.CreateRequest;
import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.InstanceContext;
import io.umdev.mdev.InstanceState;
import io.umdev.mdev.MacAddress;
import io.umdev.mdev.MdevBus;
import io.umdev.mdev.MdevDevice;
import io.umdev.mdev.MdevInstance;
import io.umdev.mdev.MdevType;
import io.umdev.mdev.ParentDevice;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The in-process driver on a real bus: binds only by override, serves the instance, lets go on remove. */
class VirtioInprocDriverTest {
    private static final MdevType BLK = MdevType.of("blk", "a RAM disk", DeviceApi.VIRTIO, 4);
    private static final MdevType NET = MdevType.of("net", "a loopback port", DeviceApi.VIRTIO, 4);

    /** Makes the test devices on each instance's own DMA table. */
    private static final class TestParent implements ParentDevice {
        final List<AutoCloseable> devices = new CopyOnWriteArrayList<>();

        @Override
        public String name() {
            return "test-virtio";
        }

        @Override
        public List<MdevType> types() {
            return List.of(BLK, NET);
        }

        @Override
        public MdevDevice create(InstanceContext context) {
            MdevDevice device = context.type().equals(BLK)
                    ? new RamDiskDevice(context.dmaTable(), 1 << 20, 1, 64, "bus-disk")
                    : new LoopbackNetDevice(context.dmaTable(), MacAddress.parse("02:00:00:00:00:01"), 1500, 1, 64);
            devices.add((AutoCloseable) device);
            return device;
        }

        @Override
        public void remove(MdevDevice device) {
            try {
                ((AutoCloseable) device).close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            devices.remove(device);
        }
    }

    private final MdevBus bus = new MdevBus();
    private final TestParent parent = new TestParent();
    private final VirtioInprocDriver driver = new VirtioInprocDriver();

    @AfterEach
    void closeBus() {
        bus.close();
    }

    private void setUpBus() throws Exception {
        bus.addParent(parent);
        bus.addDriver(driver);
    }

    @Test
    void declinesAnInstanceWhoseOverrideDoesNotNameIt() throws Exception {
        setUpBus();
        MdevInstance instance = bus.create(CreateRequest.of(parent.name(), BLK.name()));
        assertEquals(InstanceState.UNBOUND, instance.state());
        assertTrue(driver.blockDisk(instance.uuid()).isEmpty());
        assertEquals(DeviceStatus.RESET, ((VirtioDevice) instance.device()).status(),
                "a declined device is left alone");
    }

    @Test
    void bindsABlockInstanceByOverrideAndServesItsDisk() throws Exception {
        setUpBus();
        MdevInstance instance = bus.create(CreateRequest.of(parent.name(), BLK.name())
                .withDriverOverride(VirtioInprocDriver.NAME));
        assertEquals(InstanceState.BOUND, instance.state());
        assertEquals(VirtioInprocDriver.NAME, instance.driver().orElseThrow().name());
        VirtioBlockDisk disk = driver.blockDisk(instance.uuid()).orElseThrow();
        assertEquals("bus-disk", disk.getId());
        MemorySegment data = MemorySegment.ofArray(new byte[4096]);
        data.fill((byte) 0x5a);
        disk.write(16, data);
        MemorySegment back = MemorySegment.ofArray(new byte[4096]);
        disk.read(16, back);
        assertEquals(-1, data.mismatch(back));
        assertEquals(1, instance.dmaTable().size(), "the driver's memory is in the instance's own DMA table");

        bus.remove(instance.uuid());
        assertTrue(driver.blockDisk(instance.uuid()).isEmpty());
    }

    @Test
    void bindsANetInstanceByOverrideAndServesItsPort() throws Exception {
        setUpBus();
        MdevInstance instance = bus.create(CreateRequest.of(parent.name(), NET.name())
                .withDriverOverride(VirtioInprocDriver.NAME));
        VirtioNetPort port = driver.netPort(instance.uuid()).orElseThrow();
        assertFalse(driver.blockDisk(instance.uuid()).isPresent());
        assertEquals(MacAddress.parse("02:00:00:00:00:01"), port.mac());
        assertTrue(port.send(0, MemorySegment.ofArray(new byte[60])));
        assertTrue(port.awaitReceive(0, 20, TimeUnit.SECONDS));
        assertEquals(60, port.receive(0, MemorySegment.ofArray(new byte[port.maxFrameSize()])));
    }

    @Test
    void unbindingResetsTheDeviceAndUnmapsTheDriversMemory() throws Exception {
        setUpBus();
        MdevInstance instance = bus.create(CreateRequest.of(parent.name(), BLK.name())
                .withDriverOverride(VirtioInprocDriver.NAME));
        VirtioDevice device = (VirtioDevice) instance.device();
        assertTrue(DeviceStatus.has(device.status(), DeviceStatus.DRIVER_OK));
        bus.unbind(instance.uuid());
        assertEquals(DeviceStatus.RESET, device.status());
        assertEquals(0, instance.dmaTable().size());
        assertTrue(driver.blockDisk(instance.uuid()).isEmpty());
    }

    @Test
    void opensAnInstanceDirectlyWithoutTheBusBinding() throws Exception {
        bus.addParent(parent);
        MdevInstance instance = bus.create(CreateRequest.of(parent.name(), BLK.name()));
        try (AutoCloseable opened = VirtioInprocDriver.open(instance)) {
            VirtioBlockDisk disk = (VirtioBlockDisk) opened;
            assertEquals((1 << 20) / 512, disk.capacity());
        }
    }
}

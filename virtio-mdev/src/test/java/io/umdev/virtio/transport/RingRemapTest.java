package io.umdev.virtio.transport;

import static io.umdev.virtio.spec.DeviceStatus.ACKNOWLEDGE;
import static io.umdev.virtio.spec.DeviceStatus.DRIVER;
import static io.umdev.virtio.spec.DeviceStatus.DRIVER_OK;
import static io.umdev.virtio.spec.DeviceStatus.FEATURES_OK;
import static io.umdev.virtio.spec.DeviceStatus.NEEDS_RESET;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.testing.Await;
import io.umdev.virtio.testing.EchoDevice;
import io.umdev.virtio.testing.GuestMemory;
import io.umdev.virtio.testing.SplitDriver;
import io.umdev.vfiouser.dma.DmaTable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A client remaps memory as an unmap and then a map (QEMU does, when the guest's firmware changes the
 * memory layout while its virtio queue runs). A pass that falls between the two must not break the
 * device; rings that stay unmapped still do, after a grace period.
 */
class RingRemapTest {
    private static final long IOVA = 0x10000;
    private static final long SIZE = 1 << 20;
    private static final int QSIZE = 16;
    private static final long BUFFERS = IOVA + 0x40000;

    private DmaTable table;
    private GuestMemory memory;
    private EchoDevice device;
    private SplitDriver ring;

    @BeforeEach
    void setUp() throws Exception {
        table = new DmaTable(16);
        memory = GuestMemory.shared(IOVA, SIZE);
        map();
        device = new EchoDevice(table, QSIZE);
        device.setStatus(ACKNOWLEDGE | DRIVER);
        device.setDriverFeatures(VirtioFeature.bit(VirtioFeature.VERSION_1));
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK);
        ring = new SplitDriver(memory, IOVA, QSIZE);
        device.setQueueSize(0, QSIZE);
        device.setQueueAddress(0, ring.desc, ring.avail, ring.used);
        device.setQueueReady(0, true);
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
    }

    private void map() throws Exception {
        table.map(IOVA, SIZE, true, true, memory.fd().duplicate(), GuestMemory.GUARD);
    }

    @AfterEach
    void tearDown() {
        device.close();
        table.close();
        memory.close();
    }

    private void request(int n) {
        long in = BUFFERS + n * 64L;
        memory.at(in, 8).fill((byte) n);
        ring.offer(ring.chain(new long[] {in, 8, 0}, new long[] {in + 32, 8, 1}));
    }

    @Test
    void aKickBetweenUnmapAndMapIsServedOnceTheMemoryIsBackWithoutAnotherKick() throws Exception {
        request(1);
        device.kick(0);
        Await.until("the first request", () -> ring.usedIdx() == 1);

        table.unmap(IOVA, SIZE);
        request(2);
        device.kick(0);
        Thread.sleep(50); // the worker tries, finds the rings unmapped, waits
        assertEquals(0, device.status() & NEEDS_RESET, "a remap in progress is not a broken driver");
        assertEquals(1, ring.usedIdx());
        map();
        Await.until("the request made while unmapped", () -> ring.usedIdx() == 2);
        assertEquals(0, device.status() & NEEDS_RESET);
    }

    @Test
    void ringsThatStayUnmappedBreakTheDeviceAfterTheGracePeriod() throws Exception {
        request(1);
        device.kick(0);
        Await.until("the first request", () -> ring.usedIdx() == 1);
        table.unmap(IOVA, SIZE);
        device.kick(0);
        long start = System.nanoTime();
        Await.until("NEEDS_RESET", () -> (device.status() & NEEDS_RESET) != 0);
        assertTrue(System.nanoTime() - start >= io.umdev.virtio.ring.Virtqueue.UNMAPPED_GRACE_NANOS / 2,
                "not before the grace period");
        assertTrue(device.needsResetReason().contains("have not been mapped"), device.needsResetReason());
    }
}

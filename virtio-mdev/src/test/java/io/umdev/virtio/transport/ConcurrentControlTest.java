package io.umdev.virtio.transport;

import static io.umdev.virtio.spec.DeviceStatus.NEEDS_RESET;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.testing.Await;
import io.umdev.virtio.testing.EchoDevice;
import io.umdev.virtio.testing.GuestMemory;
import io.umdev.virtio.testing.SplitDriver;
import io.umdev.vfiouser.dma.DmaTable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Kicks from the driver's thread race with suspend/resume and state reads from a control thread: no
 * kick may be lost (the run would stall), every request is answered once and in order with its own
 * data, and the device never goes NEEDS_RESET.
 */
class ConcurrentControlTest {
    private static final long IOVA = 0x10000;
    private static final long BUFFERS = IOVA + 0x40000;
    private static final int QSIZE = 16;
    private static final int IN_FLIGHT = QSIZE / 2; // two descriptors per request
    private static final int REQUESTS = 20_000;

    @Test
    void kicksRacingSuspendAndResumeAreNeitherLostNorDoubled() throws Exception {
        try (DmaTable table = new DmaTable(4); GuestMemory memory = GuestMemory.map(table, IOVA, 1 << 20)) {
            EchoDevice device = new EchoDevice(table, 64);
            try {
                SplitDriver d = device.startWithSplitQueue(
                        VirtioFeature.bits(VirtioFeature.VERSION_1, VirtioFeature.RING_EVENT_IDX), memory, IOVA, QSIZE);

                AtomicBoolean done = new AtomicBoolean();
                AtomicInteger cycles = new AtomicInteger();
                AtomicReference<Throwable> controlFailure = new AtomicReference<>();
                Thread control = Thread.ofPlatform().name("control").start(() -> {
                    try {
                        while (!done.get()) {
                            device.suspend();
                            device.queueState(0);
                            device.queueStatistics(0);
                            device.resume();
                            cycles.incrementAndGet();
                            Thread.yield();
                        }
                    } catch (Throwable t) {
                        controlFailure.set(t);
                    }
                });

                int posted = 0;
                int reaped = 0;
                while (reaped < REQUESTS) {
                    while (posted < REQUESTS && posted - reaped < IN_FLIGHT) {
                        long slot = BUFFERS + (posted % IN_FLIGHT) * 64L;
                        memory.at(slot, 8).fill((byte) posted);
                        memory.at(slot + 32, 8).fill((byte) ~posted);
                        d.offer(d.chain(new long[] {slot, 8, 0}, new long[] {slot + 32, 8, 1}));
                        device.kick(0);
                        posted++;
                    }
                    int seen = reaped;
                    Await.until("request " + seen + " answered", () -> ((d.usedIdx() - seen) & 0xFFFF) != 0);
                    int answered = (d.usedIdx() - reaped) & 0xFFFF;
                    assertTrue(answered <= posted - reaped, "never more answers than requests in flight");
                    for (int k = 0; k < answered; k++, reaped++) {
                        long slot = BUFFERS + (reaped % IN_FLIGHT) * 64L;
                        assertEquals((2 * reaped) % QSIZE, d.usedId(reaped), "in order");
                        assertEquals(8, d.usedLen(reaped));
                        assertTrue(memory.unchanged(slot + 32, 8, (byte) reaped), "request echoed its own data");
                    }
                }
                done.set(true);
                control.join();
                assertNull(controlFailure.get());
                assertEquals(0, device.status() & NEEDS_RESET, () -> device.needsResetReason());
                assertEquals(REQUESTS, device.queueStatistics(0).requests());
                assertEquals(new SplitQueueState(REQUESTS & 0xFFFF), device.queueState(0));
                assertTrue(cycles.get() > 0, "the control thread ran");
            } finally {
                device.close();
            }
            assertTrue(memory.guardsIntact());
        }
    }
}

package io.umdev.virtio.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.virtio.spec.EventIndex;
import io.umdev.virtio.spec.SplitRing;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.testing.Await;
import io.umdev.virtio.testing.EchoDevice;
import io.umdev.virtio.testing.GuestMemory;
import io.umdev.virtio.testing.SplitDriver;
import io.umdev.vfiouser.dma.DmaTable;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Adaptive polling: a driver that follows the device's notification wishes (the used ring's NO_NOTIFY flag,
 * or avail_event under EVENT_IDX) must never lose a buffer, whether the device polls or sleeps when it adds
 * one. Each test's driver waits for every request, so a lost wake-up hangs the test rather than passing it.
 */
class PollingTest {
    private static final long IOVA = 0x10000;
    private static final long SIZE = 1 << 20;
    private static final int QSIZE = 16;
    private static final long RINGS = IOVA;
    private static final long BUFFERS = IOVA + 0x40000;
    /** Buffer slots the requests cycle through (QD1: one in flight at a time). */
    private static final int SLOTS = 8;
    private static final int REQUESTS = 200;
    private static final long VERSION_1 = VirtioFeature.bit(VirtioFeature.VERSION_1);
    private static final long EVENT_IDX = VERSION_1 | VirtioFeature.bit(VirtioFeature.RING_EVENT_IDX);
    /** The longest window: the driver's next request always falls inside it unless the host stalls for 10 ms. */
    private static final Duration LONG_WINDOW = Duration.ofNanos(TimeUnit.MICROSECONDS.toNanos(Polling.MAX_LIMIT_MICROS));

    private DmaTable table;
    private GuestMemory memory;
    private EchoDevice device;

    @BeforeEach
    void setUp() throws Exception {
        table = new DmaTable(16);
        memory = GuestMemory.map(table, IOVA, SIZE);
        device = new EchoDevice(table, QSIZE);
    }

    @AfterEach
    void tearDown() {
        device.close();
        memory.close();
        table.close();
    }

    private SplitDriver start(long features) {
        return device.startWithSplitQueue(features, memory, RINGS, QSIZE);
    }

    /**
     * Makes request n available and kicks only if the device asks for it, as Linux's virtio_ring does;
     * returns whether it kicked. Waits until the request is used.
     */
    private boolean request(SplitDriver d, int n, boolean eventIdx) {
        long in = BUFFERS + (n % SLOTS) * 64L;
        memory.at(in, 8).fill((byte) n);
        int old = d.availIdx();
        d.offer(d.chain(new long[] {in, 8, 0}, new long[] {in + 32, 8, 1}));
        // The index store must be visible before the device's wish is read, or a kick could be lost.
        VarHandle.fullFence();
        boolean kick = eventIdx ? EventIndex.needEvent(d.availEvent(), d.availIdx(), old)
                : (d.usedFlags() & SplitRing.USED_F_NO_NOTIFY) == 0;
        if (kick) {
            device.kick(0);
        }
        int expected = (n + 1) & 0xFFFF;
        Await.until("request " + n + " used", () -> d.usedIdx() == expected);
        return kick;
    }

    private int run(SplitDriver d, int count, boolean eventIdx) {
        int kicks = 0;
        for (int n = 0; n < count; n++) {
            kicks += request(d, n, eventIdx) ? 1 : 0;
        }
        return kicks;
    }

    @Test
    void aPolledQueueTakesBuffersTheDriverDidNotKickFor() {
        device.setPollLimit(LONG_WINDOW);
        SplitDriver d = start(VERSION_1);
        int kicks = run(d, REQUESTS, false);
        assertTrue(kicks < REQUESTS, () -> "every one of " + REQUESTS + " requests needed a kick");
        assertEquals(kicks, device.queueStatistics(0).kicks());
        assertEquals(REQUESTS, device.queueStatistics(0).requests());
    }

    @Test
    void aPolledQueueUnderEventIdxTakesBuffersTheDriverDidNotKickFor() {
        device.setPollLimit(LONG_WINDOW);
        SplitDriver d = start(EVENT_IDX);
        int kicks = run(d, REQUESTS, true);
        assertTrue(kicks < REQUESTS, () -> "every one of " + REQUESTS + " requests needed a kick");
        assertEquals(REQUESTS, device.queueStatistics(0).requests());
    }

    @Test
    void withPollingOffEveryRequestIsKickedAndNotificationsStayOn() {
        SplitDriver d = start(VERSION_1);
        assertEquals(Duration.ZERO, device.pollLimit());
        assertEquals(REQUESTS, run(d, REQUESTS, false));
        assertEquals(0, d.usedFlags() & SplitRing.USED_F_NO_NOTIFY);
    }

    @Test
    void anIdleQueueStopsBeingPolledAndAsksForKicksAgain() {
        device.setPollLimit(LONG_WINDOW);
        SplitDriver d = start(VERSION_1);
        run(d, REQUESTS, false);
        Await.until("notifications back on once the window runs out",
                () -> (d.usedFlags() & SplitRing.USED_F_NO_NOTIFY) == 0);
        long kicks = device.queueStatistics(0).kicks();
        assertTrue(request(d, REQUESTS, false), "an idle queue wants a kick");
        assertEquals(kicks + 1, device.queueStatistics(0).kicks());
    }

    @Test
    void turningPollingOffMidStreamLosesNothing() {
        device.setPollLimit(LONG_WINDOW);
        SplitDriver d = start(EVENT_IDX);
        run(d, REQUESTS / 2, true);
        device.setPollLimit(Duration.ZERO);
        for (int n = REQUESTS / 2; n < REQUESTS; n++) {
            request(d, n, true);
        }
        assertEquals(REQUESTS, device.queueStatistics(0).requests());
    }

    @Test
    void suspendTurnsTheDriversNotificationsBackOn() {
        device.setPollLimit(LONG_WINDOW);
        SplitDriver d = start(VERSION_1);
        // Poll until a request went unkicked: the ring then has NO_NOTIFY set, unless the window ran out.
        int n = 0;
        while (request(d, n, false)) {
            n++;
            assertTrue(n < REQUESTS, "the device never polled");
        }
        device.suspend();
        assertEquals(0, d.usedFlags() & SplitRing.USED_F_NO_NOTIFY, "whoever runs the queue next gets kicks");
        device.resume();
        request(d, n + 1, false);
        assertEquals(n + 2, device.queueStatistics(0).requests());
    }

    @Test
    void refusesANegativeLimit() {
        assertThrows(IllegalArgumentException.class, () -> device.setPollLimit(Duration.ofNanos(-1)));
    }
}

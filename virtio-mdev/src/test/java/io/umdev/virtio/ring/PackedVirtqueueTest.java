package io.umdev.virtio.ring;

import static io.umdev.virtio.ring.RingFixture.BUFFERS;
import static io.umdev.virtio.ring.RingFixture.RINGS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.virtio.spec.PackedRing;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.testing.PackedDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class PackedVirtqueueTest {
    private static final long BASE = VirtioFeature.bits(VirtioFeature.VERSION_1, VirtioFeature.RING_PACKED);
    private static final long EVENT_IDX = BASE | VirtioFeature.bit(VirtioFeature.RING_EVENT_IDX);
    private static final long INDIRECT = BASE | VirtioFeature.bit(VirtioFeature.RING_INDIRECT_DESC);
    private static final long IN_ORDER = BASE | VirtioFeature.bit(VirtioFeature.IN_ORDER);

    private RingFixture fx;

    @BeforeEach
    void setUp() throws Exception {
        fx = new RingFixture();
    }

    @AfterEach
    void tearDown() {
        assertTrue(fx.memory.guardsIntact());
        fx.close();
    }

    private PackedVirtqueue start(PackedDriver d, long features) {
        PackedVirtqueue vq = (PackedVirtqueue) fx.queue(true, 0, 256);
        vq.configure(fx.table, d.size, d.desc, d.driverEvent, d.deviceEvent, features);
        assertTrue(vq.activate(), () -> "activate: " + fx.faults);
        return vq;
    }

    private static long[] in(long addr, long len) {
        return new long[] {addr, len, 0};
    }

    private static long[] out(long addr, long len) {
        return new long[] {addr, len, 1};
    }

    @Test
    void popsChainsAndWritesOneUsedDescriptorPerBuffer() {
        PackedDriver d = new PackedDriver(fx.memory, RINGS, 8);
        PackedVirtqueue vq = start(d, BASE);
        int h0 = d.add(5, 0, in(BUFFERS, 4), out(BUFFERS + 64, 16));
        int h1 = d.add(6, 0, out(BUFFERS + 128, 8));
        assertTrue(vq.begin());
        DescriptorChain c = vq.pop();
        assertNotNull(c, fx.faults::toString);
        assertEquals(5, c.id());
        assertEquals(2, c.segmentCount());
        vq.push(c, 16);
        c = vq.pop();
        assertEquals(6, c.id());
        vq.push(c, 8);
        assertNull(vq.pop());
        vq.end();
        assertTrue(d.isUsed(h0, true));
        assertEquals(5, d.idAt(h0));
        assertEquals(16, d.lenAt(h0));
        // The second used descriptor goes right after the first (a used entry skips the chain's length).
        assertEquals(2, h1);
        assertTrue(d.isUsed(2, true));
        assertEquals(6, d.idAt(2));
        assertFalse(d.isUsed(1, true), "the chain's second slot is skipped, not written");
    }

    @Test
    void wrapCountersFlipOnEachLap() {
        PackedDriver d = new PackedDriver(fx.memory, RINGS, 5);
        PackedVirtqueue vq = start(d, BASE);
        int usedPos = 0;
        boolean usedWrap = true;
        for (int n = 0; n < 14; n++) {
            int len = 1 + n % 2; // chains of one and two descriptors, so laps end mid-chain
            long[][] bufs = len == 1 ? new long[][] {out(BUFFERS, 8)} : new long[][] {in(BUFFERS, 8), out(BUFFERS + 64, 8)};
            d.add(n % 5, 0, bufs);
            assertTrue(vq.begin());
            DescriptorChain c = vq.pop();
            assertNotNull(c, () -> "chain " + fx.faults);
            assertEquals(len, c.segmentCount());
            vq.push(c, 8);
            vq.end();
            assertTrue(d.isUsed(usedPos, usedWrap), "used flags carry the device's wrap counter");
            assertEquals(n % 5, d.idAt(usedPos));
            usedPos += len;
            if (usedPos >= 5) {
                usedPos -= 5;
                usedWrap = !usedWrap;
            }
            assertEquals(usedPos, vq.lastUsedIndex());
            assertEquals(usedWrap, vq.lastUsedWrap());
            assertEquals(d.next(), vq.lastAvailIndex());
            assertEquals(d.wrap(), vq.lastAvailWrap());
        }
        assertTrue(fx.faults.isEmpty(), fx.faults::toString);
    }

    @Test
    void readsIndirectTables() {
        PackedDriver d = new PackedDriver(fx.memory, RINGS, 8);
        PackedVirtqueue vq = start(d, INDIRECT);
        long table = BUFFERS + 0x8000;
        PackedDriver.writeIndirect(fx.memory, table, 0, BUFFERS, 4, 0);
        PackedDriver.writeIndirect(fx.memory, table, 1, BUFFERS + 64, 4, 0);
        PackedDriver.writeIndirect(fx.memory, table, 2, BUFFERS + 128, 32, PackedRing.DESC_F_WRITE);
        int head = d.add(2, PackedRing.DESC_F_INDIRECT, in(table, 3 * PackedRing.DESC_SIZE));
        assertTrue(vq.begin());
        DescriptorChain c = vq.pop();
        assertNotNull(c, fx.faults::toString);
        assertEquals(3, c.segmentCount());
        assertEquals(8, c.readableLength());
        assertEquals(32, c.writableLength());
        vq.push(c, 32);
        vq.end();
        assertTrue(d.isUsed(head, true));
        assertEquals(1, vq.lastUsedIndex(), "an indirect buffer takes one ring slot");
    }

    @Test
    void driverEventFlagsEnableOrDisableInterrupts() {
        PackedDriver d = new PackedDriver(fx.memory, RINGS, 8);
        PackedVirtqueue vq = start(d, BASE);
        d.setDriverEvent(PackedRing.EVENT_FLAGS_DISABLE, 0);
        d.add(0, 0, out(BUFFERS, 8));
        assertTrue(vq.begin());
        vq.push(vq.pop(), 0);
        assertFalse(vq.needsInterrupt());
        d.setDriverEvent(PackedRing.EVENT_FLAGS_ENABLE, 0);
        d.add(1, 0, out(BUFFERS, 8));
        vq.push(vq.pop(), 0);
        assertTrue(vq.needsInterrupt());
        assertFalse(vq.needsInterrupt(), "nothing new");
        vq.end();
    }

    @Test
    void driverEventDescriptorAsksForOneInterruptAtAPositionAcrossTheWrap() {
        PackedDriver d = new PackedDriver(fx.memory, RINGS, 4);
        PackedVirtqueue vq = start(d, EVENT_IDX);
        // Ask to be told when the descriptor at position 1 of the second lap (wrap 0) is used.
        d.setDriverEvent(PackedRing.EVENT_FLAGS_DESC, PackedRing.offWrap(1, false));
        boolean[] expect = {false, false, false, false, false, true, false, false};
        for (int n = 0; n < expect.length; n++) {
            d.add(n % 4, 0, out(BUFFERS, 8));
            assertTrue(vq.begin());
            vq.push(vq.pop(), 0);
            assertEquals(expect[n], vq.needsInterrupt(), "after buffer " + n);
            vq.end();
        }
    }

    @Test
    void deviceEventStructureSuppressesOrRequestsKicks() {
        PackedDriver d = new PackedDriver(fx.memory, RINGS, 8);
        PackedVirtqueue vq = start(d, BASE);
        assertTrue(vq.begin());
        vq.disableNotifications();
        assertEquals(PackedRing.EVENT_FLAGS_DISABLE, d.deviceEventFlags());
        assertFalse(vq.enableNotifications());
        assertEquals(PackedRing.EVENT_FLAGS_ENABLE, d.deviceEventFlags());
        vq.end();

        PackedDriver e = new PackedDriver(fx.memory, RINGS + 0x10000, 8);
        PackedVirtqueue eq = start(e, EVENT_IDX);
        e.add(0, 0, out(BUFFERS, 8), out(BUFFERS + 64, 8));
        assertTrue(eq.begin());
        eq.push(eq.pop(), 0);
        assertFalse(eq.enableNotifications());
        assertEquals(PackedRing.EVENT_FLAGS_DESC, e.deviceEventFlags());
        assertEquals(PackedRing.offWrap(2, true), e.deviceEventOffWrap(), "kick me at the next descriptor");
        e.add(1, 0, out(BUFFERS, 8));
        assertTrue(eq.enableNotifications());
        eq.end();
    }

    @Test
    void inOrderWritesOneUsedDescriptorPerBatch() {
        PackedDriver d = new PackedDriver(fx.memory, RINGS, 8);
        PackedVirtqueue vq = start(d, IN_ORDER);
        d.add(0, 0, in(BUFFERS, 8));
        d.add(1, 0, in(BUFFERS, 8), in(BUFFERS + 64, 8));
        d.add(2, 0, out(BUFFERS + 128, 8));
        assertTrue(vq.begin());
        vq.push(vq.pop(), 0);
        vq.push(vq.pop(), 0);
        vq.push(vq.pop(), 8);
        vq.end();
        assertTrue(d.isUsed(0, true), "the batch's one used descriptor is at its first position");
        assertEquals(2, d.idAt(0));
        assertEquals(8, d.lenAt(0));
        assertFalse(d.isUsed(1, true));
        assertFalse(d.isUsed(3, true));
        assertEquals(4, vq.lastUsedIndex(), "the used position skips the whole batch");
    }

    @Test
    void restoredStateContinuesAtTheGivenPositionAndWrap() {
        PackedDriver d = new PackedDriver(fx.memory, RINGS, 4);
        // The driver has gone round once and a half: next position 2 of lap two (wrap 0).
        for (int n = 0; n < 6; n++) {
            d.add(n % 4, 0, out(BUFFERS, 8));
        }
        PackedVirtqueue vq = (PackedVirtqueue) fx.queue(true, 0, 256);
        vq.configure(fx.table, 4, d.desc, d.driverEvent, d.deviceEvent, BASE);
        vq.setState(1, false, 1, false);
        assertTrue(vq.activate());
        assertTrue(vq.begin());
        DescriptorChain c = vq.pop();
        assertNotNull(c, fx.faults::toString);
        assertEquals(1, c.id());
        vq.push(c, 0);
        assertNull(vq.pop(), "position 2 of lap two is not available yet");
        vq.end();
        assertTrue(d.isUsed(1, false));
        assertEquals(2, vq.lastUsedIndex());
        assertFalse(vq.lastUsedWrap());
    }
}

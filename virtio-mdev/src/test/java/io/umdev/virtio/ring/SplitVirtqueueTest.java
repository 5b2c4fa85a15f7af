package io.umdev.virtio.ring;

import static io.umdev.virtio.ring.RingFixture.BUFFERS;
import static io.umdev.virtio.ring.RingFixture.RINGS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.virtio.spec.SplitRing;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.testing.GuestMemory;
import io.umdev.virtio.testing.SplitDriver;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SplitVirtqueueTest {
    private static final long BASE = VirtioFeature.bit(VirtioFeature.VERSION_1);
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

    private SplitVirtqueue start(SplitDriver d, long features) {
        SplitVirtqueue vq = (SplitVirtqueue) fx.queue(false, 0, 256);
        vq.configure(fx.table, d.size, d.desc, d.avail, d.used, features);
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
    void popsChainsInOrderWithTheirSegments() {
        SplitDriver d = new SplitDriver(fx.memory, RINGS, 8);
        SplitVirtqueue vq = start(d, BASE);
        fx.memory.at(BUFFERS, 3).copyFrom(MemorySegment.ofArray(new byte[] {1, 2, 3}));
        fx.memory.at(BUFFERS + 100, 2).copyFrom(MemorySegment.ofArray(new byte[] {4, 5}));
        d.offer(d.chain(in(BUFFERS, 3), in(BUFFERS + 100, 2), out(BUFFERS + 200, 10)));
        d.offer(d.chain(out(BUFFERS + 300, 4)));

        assertTrue(vq.begin());
        DescriptorChain c = vq.pop();
        assertNotNull(c);
        assertEquals(0, c.id());
        assertEquals(3, c.segmentCount());
        assertEquals(2, c.readableCount());
        assertEquals(5, c.readableLength());
        assertEquals(10, c.writableLength());
        assertEquals(BUFFERS + 100, c.address(1));
        assertTrue(c.isWritable(2));
        MemorySegment dst = MemorySegment.ofArray(new byte[5]);
        assertEquals(5, c.readFrom(dst));
        assertEquals(5, dst.get(ValueLayout.JAVA_BYTE, 4));
        assertEquals(0x0403, c.readLe16(2), "a field straddling two segments");
        assertEquals(-1, c.readLe16(4), "past the readable part");
        assertTrue(c.writeLe32(6, 0x11223344));
        assertFalse(c.writeLe32(8, 0), "past the writable part");
        vq.push(c, 10);

        DescriptorChain c2 = vq.pop();
        assertEquals(3, c2.id());
        assertEquals(0, c2.readableCount());
        vq.push(c2, 4);
        assertNull(vq.pop());
        assertTrue(vq.needsInterrupt());
        vq.end();

        assertEquals(2, d.usedIdx());
        assertEquals(0, d.usedId(0));
        assertEquals(10, d.usedLen(0));
        assertEquals(3, d.usedId(1));
        assertEquals(0x44, fx.memory.get(BUFFERS + 206));
        assertEquals(2, vq.availIndex());
        assertEquals(2, vq.counters().requests());
        assertEquals(19, vq.counters().bytes());
    }

    @Test
    void indexesWrapAroundSixteenBits() {
        SplitDriver d = new SplitDriver(fx.memory, RINGS, 4);
        SplitVirtqueue vq = (SplitVirtqueue) fx.queue(false, 0, 256);
        vq.configure(fx.table, 4, d.desc, d.avail, d.used, BASE);
        vq.setAvailIndex(65533);
        assertTrue(vq.activate());
        d.setAvailIdx(65533);
        int served = 0;
        for (int round = 0; round < 4; round++) {
            for (int k = 0; k < 3; k++) {
                d.offer(d.chain(out(BUFFERS + 64L * k, 8)));
            }
            assertTrue(vq.begin());
            DescriptorChain c;
            while ((c = vq.pop()) != null) {
                vq.push(c, 8);
                served++;
            }
            vq.end();
            assertEquals((65533 + served) & 0xFFFF, d.usedIdx());
        }
        assertEquals(12, served);
        assertEquals((65533 + 12) & 0xFFFF, vq.availIndex());
        assertTrue(fx.faults.isEmpty(), fx.faults::toString);
    }

    @Test
    void interruptsFollowTheNoInterruptFlagWithoutEventIndex() {
        SplitDriver d = new SplitDriver(fx.memory, RINGS, 8);
        SplitVirtqueue vq = start(d, BASE);
        d.setAvailFlags(SplitRing.AVAIL_F_NO_INTERRUPT);
        d.offer(d.chain(out(BUFFERS, 8)));
        assertTrue(vq.begin());
        vq.push(vq.pop(), 0);
        assertFalse(vq.needsInterrupt());
        assertEquals(1, vq.counters().suppressedInterrupts());
        d.setAvailFlags(0);
        d.offer(d.chain(out(BUFFERS, 8)));
        vq.push(vq.pop(), 0);
        assertTrue(vq.needsInterrupt());
        assertFalse(vq.needsInterrupt(), "nothing new used since");
        vq.end();
    }

    @Test
    void interruptsFollowUsedEventUnderEventIndex() {
        SplitDriver d = new SplitDriver(fx.memory, RINGS, 8);
        SplitVirtqueue vq = start(d, EVENT_IDX);
        d.setAvailFlags(SplitRing.AVAIL_F_NO_INTERRUPT); // ignored under EVENT_IDX
        d.setUsedEvent(2); // interrupt once used idx passes 2, i.e. when entry 2 is used
        for (int k = 0; k < 4; k++) {
            d.offer(d.chain(out(BUFFERS + 64L * k, 8)));
        }
        assertTrue(vq.begin());
        vq.push(vq.pop(), 0);
        vq.push(vq.pop(), 0);
        assertFalse(vq.needsInterrupt(), "used idx 0 -> 2 does not pass used_event 2");
        vq.push(vq.pop(), 0);
        assertTrue(vq.needsInterrupt(), "2 -> 3 passes it");
        vq.push(vq.pop(), 0);
        assertFalse(vq.needsInterrupt(), "3 -> 4 does not");
        vq.end();
    }

    @Test
    void notificationSuppressionWritesUsedFlagsOrAvailEvent() {
        SplitDriver d = new SplitDriver(fx.memory, RINGS, 8);
        SplitVirtqueue vq = start(d, BASE);
        assertTrue(vq.begin());
        vq.disableNotifications();
        assertEquals(SplitRing.USED_F_NO_NOTIFY, d.usedFlags());
        assertFalse(vq.enableNotifications());
        assertEquals(0, d.usedFlags());
        d.offer(d.chain(out(BUFFERS, 8)));
        assertTrue(vq.enableNotifications(), "a buffer that arrived meanwhile is reported");
        vq.end();

        SplitDriver e = new SplitDriver(fx.memory, RINGS + 0x10000, 8);
        SplitVirtqueue eq = start(e, EVENT_IDX);
        for (int k = 0; k < 3; k++) {
            e.offer(e.chain(out(BUFFERS, 8)));
        }
        assertTrue(eq.begin());
        eq.disableNotifications();
        assertEquals(0, e.usedFlags(), "under EVENT_IDX the flags are not used");
        DescriptorChain c;
        while ((c = eq.pop()) != null) {
            eq.push(c, 0);
        }
        assertFalse(eq.enableNotifications());
        assertEquals(3, e.availEvent(), "kick me when buffer 3 is made available");
        eq.end();
    }

    @Test
    void readsIndirectTables() {
        SplitDriver d = new SplitDriver(fx.memory, RINGS, 8);
        SplitVirtqueue vq = start(d, INDIRECT);
        long table = BUFFERS + 0x8000;
        SplitDriver.writeIndirect(fx.memory, table, 0, BUFFERS, 4, SplitRing.DESC_F_NEXT, 2);
        SplitDriver.writeIndirect(fx.memory, table, 2, BUFFERS + 64, 6, SplitRing.DESC_F_NEXT, 1);
        SplitDriver.writeIndirect(fx.memory, table, 1, BUFFERS + 128, 12, SplitRing.DESC_F_WRITE, 0);
        // A direct readable descriptor, then the indirect one.
        d.writeDesc(0, BUFFERS + 256, 2, SplitRing.DESC_F_NEXT, 1);
        d.writeDesc(1, table, 3 * SplitRing.DESC_SIZE, SplitRing.DESC_F_INDIRECT, 0);
        d.offer(0);
        assertTrue(vq.begin());
        DescriptorChain c = vq.pop();
        assertNotNull(c, fx.faults::toString);
        assertEquals(4, c.segmentCount());
        assertEquals(BUFFERS + 256, c.address(0));
        assertEquals(BUFFERS, c.address(1));
        assertEquals(BUFFERS + 64, c.address(2));
        assertEquals(12, c.writableLength());
        vq.push(c, 12);
        vq.end();
        assertEquals(1, d.usedIdx());
    }

    @Test
    void acceptsAnIndirectTableLargerThanTheQueue() {
        // Linux sizes indirect tables by seg_max, not by the queue size (vhost-user-blk: queue 128, seg_max 254).
        SplitDriver d = new SplitDriver(fx.memory, RINGS, 8);
        SplitVirtqueue vq = start(d, INDIRECT);
        long table = BUFFERS + 0x8000;
        int entries = 20;
        for (int i = 0; i < entries; i++) {
            boolean last = i == entries - 1;
            SplitDriver.writeIndirect(fx.memory, table, i, BUFFERS + 64L * i, 8,
                    last ? SplitRing.DESC_F_WRITE : SplitRing.DESC_F_NEXT, last ? 0 : i + 1);
        }
        d.writeDesc(0, table, entries * SplitRing.DESC_SIZE, SplitRing.DESC_F_INDIRECT, 0);
        d.offer(0);
        assertTrue(vq.begin());
        DescriptorChain c = vq.pop();
        assertNotNull(c, fx.faults::toString);
        assertEquals(entries, c.segmentCount());
        assertEquals(8, c.writableLength());
        vq.push(c, 8);
        vq.end();
        assertEquals(1, d.usedIdx());
    }

    @Test
    void zeroLengthDescriptorsAreSkipped() {
        SplitDriver d = new SplitDriver(fx.memory, RINGS, 8);
        SplitVirtqueue vq = start(d, BASE);
        d.offer(d.chain(in(0xDEAD0000L, 0), out(BUFFERS, 8)));
        assertTrue(vq.begin());
        DescriptorChain c = vq.pop();
        assertNotNull(c, fx.faults::toString);
        assertEquals(1, c.segmentCount());
        vq.end();
    }

    @Test
    void inOrderWritesOneUsedEntryPerBatchOfFullBuffers() {
        SplitDriver d = new SplitDriver(fx.memory, RINGS, 8);
        SplitVirtqueue vq = start(d, IN_ORDER);
        for (int k = 0; k < 3; k++) {
            d.offer(d.chain(in(BUFFERS + 64L * k, 8)));
        }
        d.offer(d.chain(out(BUFFERS + 512, 16)));
        for (int k = 0; k < 8; k++) {
            d.poisonUsed(k);
        }
        assertTrue(vq.begin());
        for (int k = 0; k < 3; k++) {
            vq.push(vq.pop(), 0);
        }
        DescriptorChain rx = vq.pop();
        vq.push(rx, 5); // partly filled: must carry its own length
        vq.end();
        assertEquals(4, d.usedIdx());
        assertEquals(3, d.usedId(0), "one entry for the batch, naming its last buffer");
        assertEquals(5, d.usedLen(0));
        assertEquals(-1, d.usedId(1), "the skipped entries are not written");
        assertEquals(-1, d.usedId(2));
        assertEquals(-1, d.usedId(3));

        // A partly filled buffer ends a batch: the next buffer gets its own entry.
        d.offer(d.chain(out(BUFFERS + 600, 16)));
        d.offer(d.chain(out(BUFFERS + 700, 16)));
        assertTrue(vq.begin());
        vq.push(vq.pop(), 3);
        vq.push(vq.pop(), 16);
        vq.end();
        assertEquals(6, d.usedIdx());
        assertEquals(4, d.usedId(4));
        assertEquals(3, d.usedLen(4));
        assertEquals(5, d.usedId(5));
        assertEquals(16, d.usedLen(5));
    }

    @Test
    void unpopHandsTheSameChainOutAgain() {
        SplitDriver d = new SplitDriver(fx.memory, RINGS, 8);
        SplitVirtqueue vq = start(d, BASE);
        d.offer(d.chain(out(BUFFERS, 8)));
        assertTrue(vq.begin());
        DescriptorChain c = vq.pop();
        vq.unpop(c);
        assertEquals(0, vq.availIndex());
        assertEquals(0, vq.pop().id());
        vq.end();
    }

    @Test
    void ringsAreResolvedAgainAfterTheTableChanges() throws Exception {
        SplitDriver d = new SplitDriver(fx.memory, RINGS, 8);
        SplitVirtqueue vq = start(d, BASE);
        try (GuestMemory other = GuestMemory.map(fx.table, 0x40000000L, 4096)) {
            assertEquals(2, fx.table.size(), "mapped " + other.iova());
            d.offer(d.chain(out(BUFFERS, 8)));
            assertTrue(vq.begin());
            vq.push(vq.pop(), 8);
            vq.end();
            assertEquals(1, d.usedIdx());
            fx.table.unmap(0x40000000L, 4096);
        }
        d.offer(d.chain(out(BUFFERS, 8)));
        assertTrue(vq.begin(), "still mapped rings are found again");
        vq.push(vq.pop(), 8);
        vq.end();
        assertEquals(2, d.usedIdx());
    }
}

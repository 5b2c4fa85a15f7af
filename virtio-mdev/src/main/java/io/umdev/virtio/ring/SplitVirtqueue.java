package io.umdev.virtio.ring;

import static io.umdev.virtio.spec.SplitRing.AVAIL_ALIGN;
import static io.umdev.virtio.spec.SplitRing.AVAIL_ELEM_SIZE;
import static io.umdev.virtio.spec.SplitRing.AVAIL_FLAGS;
import static io.umdev.virtio.spec.SplitRing.AVAIL_F_NO_INTERRUPT;
import static io.umdev.virtio.spec.SplitRing.AVAIL_IDX;
import static io.umdev.virtio.spec.SplitRing.AVAIL_RING;
import static io.umdev.virtio.spec.SplitRing.DESC_ADDR;
import static io.umdev.virtio.spec.SplitRing.DESC_ALIGN;
import static io.umdev.virtio.spec.SplitRing.DESC_FLAGS;
import static io.umdev.virtio.spec.SplitRing.DESC_F_INDIRECT;
import static io.umdev.virtio.spec.SplitRing.DESC_F_NEXT;
import static io.umdev.virtio.spec.SplitRing.DESC_F_WRITE;
import static io.umdev.virtio.spec.SplitRing.DESC_LEN;
import static io.umdev.virtio.spec.SplitRing.DESC_NEXT;
import static io.umdev.virtio.spec.SplitRing.DESC_SIZE;
import static io.umdev.virtio.spec.SplitRing.USED_ALIGN;
import static io.umdev.virtio.spec.SplitRing.USED_ELEM_ID;
import static io.umdev.virtio.spec.SplitRing.USED_ELEM_LEN;
import static io.umdev.virtio.spec.SplitRing.USED_ELEM_SIZE;
import static io.umdev.virtio.spec.SplitRing.USED_FLAGS;
import static io.umdev.virtio.spec.SplitRing.USED_F_NO_NOTIFY;
import static io.umdev.virtio.spec.SplitRing.USED_IDX;
import static io.umdev.virtio.spec.SplitRing.USED_RING;

import io.umdev.virtio.spec.EventIndex;
import io.umdev.virtio.spec.SplitRing;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * A split virtqueue, device side (virtio section 2.7). The available index is read with acquire
 * before the ring entries and descriptors it covers; the used index is written with release after the
 * used entries; a full fence separates publishing from reading {@code used_event} or the avail flags.
 */
public final class SplitVirtqueue extends Virtqueue {
    // A descriptor's len, flags and next are read as one little-endian u64 starting at len.
    private static final int FLAGS_SHIFT = (DESC_FLAGS - DESC_LEN) * Byte.SIZE;
    private static final int NEXT_SHIFT = (DESC_NEXT - DESC_LEN) * Byte.SIZE;
    // A used element {id, len} is written as one little-endian u64.
    private static final int USED_LEN_SHIFT = (USED_ELEM_LEN - USED_ELEM_ID) * Byte.SIZE;

    private MemorySegment desc;
    private MemorySegment avail;
    private MemorySegment used;
    private int mask;
    private long usedEventOffset;
    private long availEventOffset;

    /** Next available-ring position to consume (free-running 16-bit). */
    private int lastAvail;
    /** The avail idx last read from the ring. */
    private int availCache;
    /** Next used-ring position to fill (free-running 16-bit). */
    private int usedShadow;
    /** The used idx last written to the ring. */
    private int usedPublished;
    /** The used idx when the driver was last asked about interrupts. */
    private int usedSignalled;

    /** IN_ORDER: a run of pushed buffers written later as one used entry at {@link #runStart}. */
    private int runLength;
    private int runStart;
    private int runId;
    private int runLen;
    private boolean runLastFull;

    SplitVirtqueue(int index, int maxSize, QueueCounters counters, FaultListener faults) {
        super(index, maxSize, counters, faults);
    }

    @Override
    boolean validSize(int n) {
        return SplitRing.validSize(n);
    }

    @Override
    boolean resolveRings() {
        desc = ringArea("descriptor table", descAddr, SplitRing.descTableSize(size), DESC_ALIGN, false);
        if (desc == null) {
            return false;
        }
        avail = ringArea("available ring", driverAddr, SplitRing.availSize(size), AVAIL_ALIGN, false);
        if (avail == null) {
            return false;
        }
        used = ringArea("used ring", deviceAddr, SplitRing.usedSize(size), USED_ALIGN, true);
        if (used == null) {
            return false;
        }
        mask = size - 1;
        usedEventOffset = SplitRing.usedEventOffset(size);
        availEventOffset = SplitRing.availEventOffset(size);
        return true;
    }

    @Override
    boolean checkPosition() {
        return true;
    }

    @Override
    void releaseRings() {
        desc = null;
        avail = null;
        used = null;
    }

    /** The next available index the device will consume: the split queue state. */
    public int availIndex() {
        return lastAvail;
    }

    /** The used index the device has produced (after everything pushed is published). */
    public int usedIndex() {
        return usedShadow;
    }

    /**
     * Restores the position (control path, inactive): the next buffer consumed is avail ring entry
     * {@code availIndex}; every earlier buffer counts as used, as vDPA's set_vq_state assumes.
     */
    public void setAvailIndex(int availIndex) {
        lastAvail = availIndex & U16_MASK;
        availCache = lastAvail;
        usedShadow = lastAvail;
        usedPublished = lastAvail;
        usedSignalled = lastAvail;
        runLength = 0;
    }

    @Override
    public void resetState() {
        setAvailIndex(0);
    }

    private int readAvailIdx() {
        return loadAcquire16(avail, AVAIL_IDX);
    }

    /** Reads the driver's avail idx; false (queue broken) if it ran more than a queue ahead. */
    private boolean refreshAvail() {
        int idx = readAvailIdx();
        if (((idx - lastAvail) & U16_MASK) > size) {
            return fail(String.format("available index %d is more than the queue size %d ahead of %d", idx, size,
                    lastAvail));
        }
        availCache = idx;
        return true;
    }

    @Override
    public DescriptorChain pop() {
        if (isBroken()) {
            return null;
        }
        if (lastAvail == availCache && (!refreshAvail() || lastAvail == availCache)) {
            return null;
        }
        int head = Short.toUnsignedInt(avail.get(LE16, AVAIL_RING + (long) AVAIL_ELEM_SIZE * (lastAvail & mask)));
        if (head >= size) {
            fail(String.format("available ring entry %d names descriptor %d, beyond the queue size %d", lastAvail,
                    head, size));
            return null;
        }
        DescriptorChain c = chain;
        c.reset();
        c.setId(head);
        if (!walk(head)) {
            return null;
        }
        lastAvail = (lastAvail + 1) & U16_MASK;
        return c;
    }

    /** Follows the chain from {@code head} through the table (and at most one indirect table). */
    private boolean walk(int head) {
        int i = head;
        int hops = 0;
        while (true) {
            long base = (long) i * DESC_SIZE;
            long addr = desc.get(LE64, base + DESC_ADDR);
            long tail = desc.get(LE64, base + DESC_LEN);
            int len = (int) tail;
            int flags = (int) (tail >>> FLAGS_SHIFT) & U16_MASK;
            if ((flags & DESC_F_INDIRECT) != 0) {
                return walkIndirect(head, addr, len, flags);
            }
            if (!addBuffer(addr, len, (flags & DESC_F_WRITE) != 0)) {
                return false;
            }
            if ((flags & DESC_F_NEXT) == 0) {
                return true;
            }
            i = (int) (tail >>> NEXT_SHIFT) & U16_MASK;
            if (i >= size) {
                return fail(String.format("descriptor chain %d links to descriptor %d, beyond the queue size %d", head,
                        i, size));
            }
            if (++hops >= size) {
                return fail(String.format("descriptor chain %d loops or is longer than the queue size %d", head, size));
            }
        }
    }

    private boolean walkIndirect(int head, long addr, int len, int flags) {
        if (!indirect) {
            return fail(String.format("descriptor chain %d uses an indirect table, but INDIRECT_DESC was not negotiated",
                    head));
        }
        if ((flags & DESC_F_NEXT) != 0) {
            return fail(String.format("descriptor chain %d has an indirect descriptor with NEXT set", head));
        }
        MemorySegment table = indirectTable(addr, len, DESC_SIZE);
        if (table == null) {
            return false;
        }
        long start = indirectBase;
        int entries = (int) ((len & U32_MASK) / DESC_SIZE);
        int i = 0;
        int hops = 0;
        while (true) {
            long base = start + (long) i * DESC_SIZE;
            long a = table.get(LE64, base + DESC_ADDR);
            long tail = table.get(LE64, base + DESC_LEN);
            int l = (int) tail;
            int f = (int) (tail >>> FLAGS_SHIFT) & U16_MASK;
            if ((f & DESC_F_INDIRECT) != 0) {
                return fail(String.format("descriptor chain %d nests an indirect table inside another", head));
            }
            if (!addBuffer(a, l, (f & DESC_F_WRITE) != 0)) {
                return false;
            }
            if ((f & DESC_F_NEXT) == 0) {
                return true;
            }
            i = (int) (tail >>> NEXT_SHIFT) & U16_MASK;
            if (i >= entries) {
                return fail(String.format("indirect descriptor of chain %d links to entry %d of a %d-entry table", head,
                        i, entries));
            }
            if (++hops >= entries) {
                return fail(String.format("indirect table of chain %d loops", head));
            }
        }
    }

    @Override
    public void unpop(DescriptorChain popped) {
        lastAvail = (lastAvail - 1) & U16_MASK;
    }

    @Override
    public void push(DescriptorChain popped, long written) {
        logWritten(popped, written);
        account(popped, written);
        int id = popped.id();
        int len = (int) Math.min(written, U32_MASK);
        if (inOrder) {
            // Coalesce only behind buffers filled completely: the driver assumes that of the skipped ones.
            if (runLength > 0 && !runLastFull) {
                flushRun();
            }
            if (runLength == 0) {
                runStart = usedShadow;
            }
            runLength++;
            runId = id;
            runLen = len;
            runLastFull = written == popped.writableLength();
        } else {
            writeUsed(usedShadow, id, len);
        }
        usedShadow = (usedShadow + 1) & U16_MASK;
    }

    private void writeUsed(int position, int id, int len) {
        long at = USED_RING + (long) USED_ELEM_SIZE * (position & mask);
        used.set(LE64, at + USED_ELEM_ID, (id & U32_MASK) | ((long) len << USED_LEN_SHIFT));
    }

    private void flushRun() {
        writeUsed(runStart, runId, runLen);
        runLength = 0;
    }

    @Override
    public void publish() {
        flushCounts();
        if (runLength > 0) {
            flushRun();
        }
        if (usedShadow != usedPublished) {
            storeRelease16(used, USED_IDX, usedShadow);
            usedPublished = usedShadow;
            if (dirtyLog != null) {
                logRing(deviceAddr, SplitRing.usedSize(size));
            }
        }
    }

    @Override
    public boolean needsInterrupt() {
        publish();
        int old = usedSignalled;
        int now = usedShadow;
        if (old == now) {
            return false;
        }
        usedSignalled = now;
        // Our used idx store must be visible before we read the driver's wish (the need_event race).
        VarHandle.fullFence();
        boolean need;
        if (eventIdx) {
            int event = Short.toUnsignedInt(avail.get(LE16, usedEventOffset));
            need = EventIndex.needEvent(event, now, old);
        } else {
            need = (avail.get(LE16, (long) AVAIL_FLAGS) & AVAIL_F_NO_INTERRUPT) == 0;
        }
        if (!need) {
            counters.suppressed();
        }
        return need;
    }

    @Override
    public void disableNotifications() {
        if (!eventIdx) {
            used.set(LE16, (long) USED_FLAGS, (short) USED_F_NO_NOTIFY);
        }
        // Under EVENT_IDX avail_event is simply left behind: the driver kicks only when crossing it.
    }

    @Override
    public boolean enableNotifications() {
        if (isBroken()) {
            return false;
        }
        if (eventIdx) {
            used.set(LE16, availEventOffset, (short) lastAvail);
        } else {
            used.set(LE16, (long) USED_FLAGS, (short) 0);
        }
        if (dirtyLog != null) {
            logRing(deviceAddr, SplitRing.usedSize(size));
        }
        // The store above must be visible before we look at avail idx again, or a kick could be lost.
        VarHandle.fullFence();
        return refreshAvail() && availCache != lastAvail;
    }

    @Override
    public boolean hasAvailable() {
        return !isBroken() && (availCache != lastAvail || (refreshAvail() && availCache != lastAvail));
    }
}

package io.umdev.virtio.ring;

import static io.umdev.virtio.spec.PackedRing.DESC_ADDR;
import static io.umdev.virtio.spec.PackedRing.DESC_ALIGN;
import static io.umdev.virtio.spec.PackedRing.DESC_FLAGS;
import static io.umdev.virtio.spec.PackedRing.DESC_F_AVAIL;
import static io.umdev.virtio.spec.PackedRing.DESC_F_INDIRECT;
import static io.umdev.virtio.spec.PackedRing.DESC_F_NEXT;
import static io.umdev.virtio.spec.PackedRing.DESC_F_USED;
import static io.umdev.virtio.spec.PackedRing.DESC_F_WRITE;
import static io.umdev.virtio.spec.PackedRing.DESC_ID;
import static io.umdev.virtio.spec.PackedRing.DESC_LEN;
import static io.umdev.virtio.spec.PackedRing.DESC_SIZE;
import static io.umdev.virtio.spec.PackedRing.EVENT_ALIGN;
import static io.umdev.virtio.spec.PackedRing.EVENT_FLAGS;
import static io.umdev.virtio.spec.PackedRing.EVENT_FLAGS_DESC;
import static io.umdev.virtio.spec.PackedRing.EVENT_FLAGS_DISABLE;
import static io.umdev.virtio.spec.PackedRing.EVENT_FLAGS_ENABLE;
import static io.umdev.virtio.spec.PackedRing.EVENT_OFFSET_MASK;
import static io.umdev.virtio.spec.PackedRing.EVENT_OFF_WRAP;
import static io.umdev.virtio.spec.PackedRing.EVENT_SIZE;
import static io.umdev.virtio.spec.PackedRing.EVENT_WRAP_BIT;
import static io.umdev.virtio.spec.PackedRing.INITIAL_WRAP_COUNTER;

import io.umdev.virtio.spec.EventIndex;
import io.umdev.virtio.spec.PackedRing;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * A packed virtqueue, device side (virtio section 2.8). A descriptor's flags are read with acquire
 * before the rest of it and of its chain; a used descriptor's flags are written with release after its
 * id and length; a full fence separates publishing from reading the driver's event suppression.
 */
public final class PackedVirtqueue extends Virtqueue {
    // A descriptor's len, id and flags are read as one little-endian u64 starting at len.
    private static final int ID_SHIFT = (DESC_ID - DESC_LEN) * Byte.SIZE;
    private static final int FLAGS_SHIFT = (DESC_FLAGS - DESC_LEN) * Byte.SIZE;

    private MemorySegment ring;
    private MemorySegment driverEvent;
    private MemorySegment deviceEvent;

    private int nextAvail;
    private boolean availWrap = INITIAL_WRAP_COUNTER;
    private int nextUsed;
    private boolean usedWrap = INITIAL_WRAP_COUNTER;
    /** Where the driver was last asked about interrupts, and with which wrap counter. */
    private int signalledUsed;
    private boolean signalledWrap = INITIAL_WRAP_COUNTER;
    /** Position before the last pop, for {@link #unpop}. */
    private int poppedFrom;
    private boolean poppedWrap;

    /** IN_ORDER: a run of pushed buffers written at {@link #publish()} as one used descriptor. */
    private int runLength;
    private int runStart;
    private boolean runStartWrap;
    private int runId;
    private int runLen;
    private boolean runLastFull;

    PackedVirtqueue(int index, int maxSize, QueueCounters counters, FaultListener faults) {
        super(index, maxSize, counters, faults);
    }

    @Override
    boolean validSize(int n) {
        return PackedRing.validSize(n);
    }

    @Override
    boolean resolveRings() {
        ring = ringArea("descriptor ring", descAddr, PackedRing.ringSize(size), DESC_ALIGN, true);
        if (ring == null) {
            return false;
        }
        driverEvent = ringArea("driver event suppression area", driverAddr, EVENT_SIZE, EVENT_ALIGN, false);
        if (driverEvent == null) {
            return false;
        }
        deviceEvent = ringArea("device event suppression area", deviceAddr, EVENT_SIZE, EVENT_ALIGN, true);
        return deviceEvent != null;
    }

    @Override
    void releaseRings() {
        ring = null;
        driverEvent = null;
        deviceEvent = null;
    }

    public int lastAvailIndex() {
        return nextAvail;
    }

    public boolean lastAvailWrap() {
        return availWrap;
    }

    public int lastUsedIndex() {
        return nextUsed;
    }

    public boolean lastUsedWrap() {
        return usedWrap;
    }

    /** Restores the position (control path, inactive). Indexes beyond the queue size break it at activation. */
    public void setState(int lastAvailIndex, boolean lastAvailWrap, int lastUsedIndex, boolean lastUsedWrap) {
        nextAvail = lastAvailIndex & EVENT_OFFSET_MASK;
        availWrap = lastAvailWrap;
        nextUsed = lastUsedIndex & EVENT_OFFSET_MASK;
        usedWrap = lastUsedWrap;
        signalledUsed = nextUsed;
        signalledWrap = usedWrap;
        runLength = 0;
    }

    @Override
    public void resetState() {
        setState(0, INITIAL_WRAP_COUNTER, 0, INITIAL_WRAP_COUNTER);
    }

    @Override
    boolean checkPosition() {
        if (nextAvail >= size || nextUsed >= size) {
            return fail(String.format("restored ring position (avail %d, used %d) is beyond the queue size %d",
                    nextAvail, nextUsed, size));
        }
        return true;
    }

    private int flagsAt(int position) {
        return loadAcquire16(ring, (long) position * DESC_SIZE + DESC_FLAGS);
    }

    @Override
    public boolean hasAvailable() {
        return !isBroken() && PackedRing.isAvailable(flagsAt(nextAvail), availWrap);
    }

    @Override
    public DescriptorChain pop() {
        if (isBroken()) {
            return null;
        }
        int flags = flagsAt(nextAvail);
        if (!PackedRing.isAvailable(flags, availWrap)) {
            return null;
        }
        DescriptorChain c = chain;
        c.reset();
        int i = nextAvail;
        boolean wrap = availWrap;
        int slots = 0;
        int id;
        while (true) {
            long base = (long) i * DESC_SIZE;
            long addr = ring.get(LE64, base + DESC_ADDR);
            long tail = ring.get(LE64, base + DESC_LEN);
            if (slots > 0) {
                flags = (int) (tail >>> FLAGS_SHIFT) & U16_MASK; // the head's were read with acquire
            }
            int len = (int) tail;
            id = (int) (tail >>> ID_SHIFT) & U16_MASK;
            c.setId(id);
            if (++slots > size) {
                fail(String.format("descriptor chain at %d is longer than the queue size %d", nextAvail, size));
                return null;
            }
            if (++i == size) {
                i = 0;
                wrap = !wrap;
            }
            if ((flags & DESC_F_INDIRECT) != 0) {
                if (!walkIndirect(addr, len, flags)) {
                    return null;
                }
                break;
            }
            if (!addBuffer(addr, len, (flags & DESC_F_WRITE) != 0)) {
                return null;
            }
            if ((flags & DESC_F_NEXT) == 0) {
                break;
            }
        }
        if (id >= size) {
            fail(String.format("buffer id %d at ring position %d is beyond the queue size %d", id, nextAvail, size));
            return null;
        }
        c.setRingSlots(slots);
        poppedFrom = nextAvail;
        poppedWrap = availWrap;
        nextAvail = i;
        availWrap = wrap;
        return c;
    }

    private boolean walkIndirect(long addr, int len, int flags) {
        if (!indirect) {
            return fail(String.format("descriptor at %d uses an indirect table, but INDIRECT_DESC was not negotiated",
                    nextAvail));
        }
        if ((flags & DESC_F_NEXT) != 0) {
            return fail(String.format("indirect descriptor at %d has NEXT set", nextAvail));
        }
        MemorySegment table = indirectTable(addr, len, DESC_SIZE);
        if (table == null) {
            return false;
        }
        long start = indirectBase;
        int entries = (int) ((len & U32_MASK) / DESC_SIZE);
        // A packed indirect table is read in order; NEXT is not used inside it.
        for (int e = 0; e < entries; e++) {
            long base = start + (long) e * DESC_SIZE;
            int f = Short.toUnsignedInt(table.get(LE16, base + DESC_FLAGS));
            if ((f & DESC_F_INDIRECT) != 0) {
                return fail(String.format("indirect table at %d nests another indirect table", nextAvail));
            }
            if (!addBuffer(table.get(LE64, base + DESC_ADDR), table.get(LE32, base + DESC_LEN),
                    (f & DESC_F_WRITE) != 0)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void unpop(DescriptorChain popped) {
        nextAvail = poppedFrom;
        availWrap = poppedWrap;
    }

    @Override
    public void push(DescriptorChain popped, long written) {
        logWritten(popped, written);
        int len = (int) Math.min(written, U32_MASK);
        if (inOrder) {
            if (runLength > 0 && !runLastFull) {
                flushRun();
            }
            account(popped, written);
            if (runLength == 0) {
                runStart = nextUsed;
                runStartWrap = usedWrap;
            }
            runLength++;
            runId = popped.id();
            runLen = len;
            runLastFull = written == popped.writableLength();
        } else {
            account(popped, written);
            writeUsed(nextUsed, usedWrap, popped.id(), len);
        }
        nextUsed += popped.ringSlots();
        if (nextUsed >= size) {
            nextUsed -= size;
            usedWrap = !usedWrap;
        }
    }

    /**
     * Hands a used descriptor to the driver. Unlike a split ring's used idx, each one is visible the
     * moment its flags are stored, so the counters are brought up to date first: a driver that has
     * seen a buffer completed must never read a count that leaves it out.
     */
    private void writeUsed(int position, boolean wrap, int id, int len) {
        flushCounts();
        long base = (long) position * DESC_SIZE;
        ring.set(LE16, base + DESC_ID, (short) id);
        ring.set(LE32, base + DESC_LEN, len);
        int flags = wrap ? DESC_F_AVAIL | DESC_F_USED : 0;
        storeRelease16(ring, base + DESC_FLAGS, flags);
        if (dirtyLog != null) {
            logRing(descAddr + base, DESC_SIZE);
        }
    }

    private void flushRun() {
        writeUsed(runStart, runStartWrap, runId, runLen);
        runLength = 0;
    }

    @Override
    public void publish() {
        flushCounts();
        if (runLength > 0) {
            flushRun();
        }
    }

    @Override
    public boolean needsInterrupt() {
        publish();
        int old = signalledUsed;
        boolean oldWrap = signalledWrap;
        int now = nextUsed;
        if (old == now && oldWrap == usedWrap) {
            return false;
        }
        signalledUsed = now;
        signalledWrap = usedWrap;
        VarHandle.fullFence();
        int flags = Short.toUnsignedInt(driverEvent.get(LE16, (long) EVENT_FLAGS));
        boolean need;
        if (flags == EVENT_FLAGS_DESC && eventIdx) {
            int offWrap = Short.toUnsignedInt(driverEvent.get(LE16, (long) EVENT_OFF_WRAP));
            need = crossed(offWrap, old, oldWrap, now);
        } else {
            need = flags != EVENT_FLAGS_DISABLE;
        }
        if (!need) {
            counters.suppressed();
        }
        return need;
    }

    /**
     * Whether moving the used position from (old, oldWrap) to (now, usedWrap) passed the driver's event
     * descriptor: positions are unrolled onto one line so that the event-index rule applies.
     */
    private boolean crossed(int offWrap, int old, boolean oldWrap, int now) {
        int event = offWrap & EVENT_OFFSET_MASK;
        boolean eventWrap = (offWrap >>> EVENT_WRAP_BIT) != 0;
        // Express old and event relative to the current lap: a value from the previous lap is size lower.
        int o = oldWrap == usedWrap ? old : old - size;
        int e = eventWrap == usedWrap ? event : event - size;
        return EventIndex.needEvent(e, now, o);
    }

    @Override
    public void disableNotifications() {
        deviceEvent.set(LE16, (long) EVENT_FLAGS, (short) EVENT_FLAGS_DISABLE);
    }

    @Override
    public boolean enableNotifications() {
        if (isBroken()) {
            return false;
        }
        if (eventIdx) {
            deviceEvent.set(LE16, (long) EVENT_OFF_WRAP, (short) PackedRing.offWrap(nextAvail, availWrap));
            storeRelease16(deviceEvent, EVENT_FLAGS, EVENT_FLAGS_DESC);
        } else {
            storeRelease16(deviceEvent, EVENT_FLAGS, EVENT_FLAGS_ENABLE);
        }
        if (dirtyLog != null) {
            logRing(deviceAddr, EVENT_SIZE);
        }
        VarHandle.fullFence();
        return hasAvailable();
    }
}

package io.umdev.virtio.driver;

import static io.umdev.virtio.spec.SplitRing.AVAIL_ELEM_SIZE;
import static io.umdev.virtio.spec.SplitRing.AVAIL_FLAGS;
import static io.umdev.virtio.spec.SplitRing.AVAIL_F_NO_INTERRUPT;
import static io.umdev.virtio.spec.SplitRing.AVAIL_IDX;
import static io.umdev.virtio.spec.SplitRing.AVAIL_RING;
import static io.umdev.virtio.spec.SplitRing.DESC_ADDR;
import static io.umdev.virtio.spec.SplitRing.DESC_FLAGS;
import static io.umdev.virtio.spec.SplitRing.DESC_F_INDIRECT;
import static io.umdev.virtio.spec.SplitRing.DESC_F_NEXT;
import static io.umdev.virtio.spec.SplitRing.DESC_F_WRITE;
import static io.umdev.virtio.spec.SplitRing.DESC_LEN;
import static io.umdev.virtio.spec.SplitRing.DESC_NEXT;
import static io.umdev.virtio.spec.SplitRing.DESC_SIZE;
import static io.umdev.virtio.spec.SplitRing.USED_ELEM_ID;
import static io.umdev.virtio.spec.SplitRing.USED_ELEM_LEN;
import static io.umdev.virtio.spec.SplitRing.USED_ELEM_SIZE;
import static io.umdev.virtio.spec.SplitRing.USED_FLAGS;
import static io.umdev.virtio.spec.SplitRing.USED_F_NO_NOTIFY;
import static io.umdev.virtio.spec.SplitRing.USED_IDX;
import static io.umdev.virtio.spec.SplitRing.USED_RING;

import io.umdev.linux.EventFd;
import io.umdev.virtio.spec.EventIndex;
import io.umdev.virtio.spec.SplitRing;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.invoke.VarHandle;

/**
 * The driver side of a split virtqueue (virtio 2.7): a descriptor table with a free list kept in the
 * driver's own arrays (never read back from shared memory), the available ring it writes and the used
 * ring the device writes.
 */
final class SplitDriverQueue extends DriverQueue {
    private static final int INDEX_MASK = 0xFFFF;

    private final long desc;
    private final long avail;
    private final long used;
    private final int mask;
    private final long usedEvent;
    private final long availEvent;
    /** Free list and chain links, the driver's copy of each descriptor's next. */
    private final int[] next;
    /** Descriptors each head holds (1 for an indirect buffer). */
    private final int[] chainLength;
    private int freeHead;
    private int numFree;
    private int outstanding;
    private int availIdx;
    private int kickedIdx;
    private int lastUsed;

    /** Where a split queue's areas lie in the driver memory. */
    record Areas(long desc, long avail, long used, long indirect) {
    }

    static Areas plan(MemoryPlan plan, int size, int indirectEntries) {
        long desc = plan.reserve(SplitRing.descTableSize(size), Math.max(SplitRing.DESC_ALIGN, AREA_ALIGNMENT));
        long avail = plan.reserve(SplitRing.availSize(size), Math.max(SplitRing.AVAIL_ALIGN, AREA_ALIGNMENT));
        long used = plan.reserve(SplitRing.usedSize(size), Math.max(SplitRing.USED_ALIGN, AREA_ALIGNMENT));
        long indirect = indirectEntries == 0 ? 0
                : plan.reserve((long) size * indirectEntries * DESC_SIZE, SplitRing.DESC_ALIGN);
        return new Areas(desc, avail, used, indirect);
    }

    SplitDriverQueue(VirtioDevice device, int index, int size, DriverMemory memory, Areas areas, boolean eventIndex,
            int indirectEntries, InterruptMode mode, EventFd interruptFd) {
        super(device, index, size, memory, eventIndex, areas.indirect(), indirectEntries, mode, interruptFd);
        if (!SplitRing.validSize(size)) {
            throw new IllegalArgumentException("a split ring's size is a power of two up to "
                    + SplitRing.MAX_SIZE + ": " + size);
        }
        this.desc = areas.desc();
        this.avail = areas.avail();
        this.used = areas.used();
        this.mask = size - 1;
        this.usedEvent = avail + SplitRing.usedEventOffset(size);
        this.availEvent = used + SplitRing.availEventOffset(size);
        this.next = new int[size];
        this.chainLength = new int[size];
        for (int i = 0; i < size; i++) {
            next[i] = i + 1;
        }
        numFree = size;
        applyInterruptMode();
    }

    @Override
    int usedPosition() {
        return lastUsed;
    }

    @Override
    long usedAreaOffset() {
        return used;
    }

    @Override
    public boolean packed() {
        return false;
    }

    @Override
    public int freeDescriptors() {
        return numFree;
    }

    @Override
    public int inFlightCount() {
        return outstanding;
    }

    @Override
    boolean addChain(BufferChain chain, int token) {
        int segments = chain.count();
        boolean indirect = useIndirect(segments);
        int needed = indirect ? 1 : segments;
        if (numFree < needed) {
            return false;
        }
        int head = freeHead;
        if (indirect) {
            long table = indirectOffset + (long) head * indirectEntries * DESC_SIZE;
            for (int i = 0; i < segments; i++) {
                int flags = (chain.isWritable(i) ? DESC_F_WRITE : 0) | (i + 1 < segments ? DESC_F_NEXT : 0);
                writeDesc(table + (long) i * DESC_SIZE, chain.iova(i), chain.length(i), flags, i + 1 < segments ? i + 1 : 0);
            }
            writeDesc(desc + (long) head * DESC_SIZE, memoryIova + table, segments * DESC_SIZE, DESC_F_INDIRECT, 0);
            freeHead = next[head];
        } else {
            int id = head;
            int last = head;
            for (int i = 0; i < segments; i++) {
                int flags = (chain.isWritable(i) ? DESC_F_WRITE : 0) | (i + 1 < segments ? DESC_F_NEXT : 0);
                writeDesc(desc + (long) id * DESC_SIZE, chain.iova(i), chain.length(i), flags,
                        i + 1 < segments ? next[id] : 0);
                last = id;
                id = next[id];
            }
            freeHead = next[last];
        }
        numFree -= needed;
        outstanding++;
        chainLength[head] = needed;
        tokens[head] = token;
        writableBytes[head] = chain.writableBytes();
        inFlightIds[head] = true;
        Le.u16(memory, avail + AVAIL_RING + (long) (availIdx & mask) * AVAIL_ELEM_SIZE, head);
        availIdx = (availIdx + 1) & INDEX_MASK;
        // The ring entry (and the descriptors) before the index that makes them visible.
        VarHandle.releaseFence();
        Le.u16(memory, avail + AVAIL_IDX, availIdx);
        return true;
    }

    private void writeDesc(long at, long addr, int len, int flags, int nextId) {
        Le.u64(memory, at + DESC_ADDR, addr);
        Le.u32(memory, at + DESC_LEN, len);
        Le.u16(memory, at + DESC_FLAGS, flags);
        Le.u16(memory, at + DESC_NEXT, nextId);
    }

    @Override
    boolean hasUnnotified() {
        return availIdx != kickedIdx;
    }

    @Override
    boolean needsKickNow() {
        int old = kickedIdx;
        int now = availIdx;
        kickedIdx = now;
        if (old == now) {
            return false;
        }
        // The new avail idx must be visible before the device's wishes are read, or both sides sleep.
        VarHandle.fullFence();
        if (eventIndex) {
            return EventIndex.needEvent(Le.u16(memory, availEvent), now, old);
        }
        return (Le.u16(memory, used + USED_FLAGS) & USED_F_NO_NOTIFY) == 0;
    }

    @Override
    int pollUsed() {
        int usedIdx = Le.u16(memory, used + USED_IDX);
        if (usedIdx == lastUsed) {
            return NONE;
        }
        // The entries before the index told us they are there.
        VarHandle.acquireFence();
        if (((usedIdx - lastUsed) & INDEX_MASK) > outstanding) {
            markBroken("used idx " + usedIdx + " is " + ((usedIdx - lastUsed) & INDEX_MASK)
                    + " past the last seen " + lastUsed + " with only " + outstanding + " buffers in flight");
            return NONE;
        }
        long elem = used + USED_RING + (long) (lastUsed & mask) * USED_ELEM_SIZE;
        long id = Le.u32(memory, elem + USED_ELEM_ID);
        long length = Le.u32(memory, elem + USED_ELEM_LEN);
        if (!acceptUsed(id >= size ? -1 : (int) id, length)) {
            return NONE;
        }
        int head = (int) id;
        lastUsed = (lastUsed + 1) & INDEX_MASK;
        int last = head;
        for (int i = 1; i < chainLength[head]; i++) {
            last = next[last];
        }
        next[last] = freeHead;
        freeHead = head;
        numFree += chainLength[head];
        outstanding--;
        inFlightIds[head] = false;
        usedLength = (int) length;
        return tokens[head];
    }

    @Override
    public boolean hasUsed() {
        return Le.u16(memory, used + USED_IDX) != lastUsed;
    }

    @Override
    public boolean enableInterrupts() {
        if (eventIndex) {
            // Interrupt when the device moves past what we have seen.
            Le.u16(memory, usedEvent, lastUsed);
        } else {
            Le.u16(memory, avail + AVAIL_FLAGS, 0);
        }
        VarHandle.fullFence();
        return hasUsed();
    }

    @Override
    public void disableInterrupts() {
        // Under event index: an event index just behind us is only reached again after 65535 entries.
        if (!eventIndex) {
            Le.u16(memory, avail + AVAIL_FLAGS, AVAIL_F_NO_INTERRUPT);
        } else {
            Le.u16(memory, usedEvent, (lastUsed - 1) & INDEX_MASK);
        }
    }
}

package io.umdev.virtio.testing;

import static io.umdev.virtio.spec.SplitRing.AVAIL_ELEM_SIZE;
import static io.umdev.virtio.spec.SplitRing.AVAIL_FLAGS;
import static io.umdev.virtio.spec.SplitRing.AVAIL_IDX;
import static io.umdev.virtio.spec.SplitRing.AVAIL_RING;
import static io.umdev.virtio.spec.SplitRing.DESC_ADDR;
import static io.umdev.virtio.spec.SplitRing.DESC_FLAGS;
import static io.umdev.virtio.spec.SplitRing.DESC_F_NEXT;
import static io.umdev.virtio.spec.SplitRing.DESC_F_WRITE;
import static io.umdev.virtio.spec.SplitRing.DESC_LEN;
import static io.umdev.virtio.spec.SplitRing.DESC_NEXT;
import static io.umdev.virtio.spec.SplitRing.DESC_SIZE;
import static io.umdev.virtio.spec.SplitRing.USED_ELEM_ID;
import static io.umdev.virtio.spec.SplitRing.USED_ELEM_LEN;
import static io.umdev.virtio.spec.SplitRing.USED_ELEM_SIZE;
import static io.umdev.virtio.spec.SplitRing.USED_FLAGS;
import static io.umdev.virtio.spec.SplitRing.USED_IDX;
import static io.umdev.virtio.spec.SplitRing.USED_RING;

import io.umdev.virtio.spec.SplitRing;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The driver's side of a split ring, written by hand in test memory: descriptors, the available ring
 * and its flags/used_event, and reading back the used ring. Knows nothing of the engine.
 */
public final class SplitDriver {
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public final int size;
    public final long desc;
    public final long avail;
    public final long used;
    private final MemorySegment descMem;
    private final MemorySegment availMem;
    private final MemorySegment usedMem;
    private int availIdx;
    private int nextDesc;

    /** Lays the three areas out one after the other from {@code base} (aligned) in {@code memory}. */
    public SplitDriver(GuestMemory memory, long base, int size) {
        this.size = size;
        this.desc = base;
        this.avail = align(desc + SplitRing.descTableSize(size), SplitRing.AVAIL_ALIGN);
        this.used = align(avail + SplitRing.availSize(size), 4096);
        this.descMem = memory.at(desc, SplitRing.descTableSize(size));
        this.availMem = memory.at(avail, SplitRing.availSize(size));
        this.usedMem = memory.at(used, SplitRing.usedSize(size));
        descMem.fill((byte) 0);
        availMem.fill((byte) 0);
        usedMem.fill((byte) 0);
    }

    private static long align(long v, long a) {
        return (v + a - 1) & -a;
    }

    /** The first address past the rings. */
    public long end() {
        return used + SplitRing.usedSize(size);
    }

    public void writeDesc(int i, long addr, int len, int flags, int next) {
        long b = (long) i * DESC_SIZE;
        descMem.set(LE64, b + DESC_ADDR, addr);
        descMem.set(LE32, b + DESC_LEN, len);
        descMem.set(LE16, b + DESC_FLAGS, (short) flags);
        descMem.set(LE16, b + DESC_NEXT, (short) next);
    }

    /** Writes entry {@code i} of an indirect table at {@code table}. */
    public static void writeIndirect(GuestMemory memory, long table, int i, long addr, int len, int flags, int next) {
        MemorySegment m = memory.at(table + (long) i * DESC_SIZE, DESC_SIZE);
        m.set(LE64, DESC_ADDR, addr);
        m.set(LE32, DESC_LEN, len);
        m.set(LE16, DESC_FLAGS, (short) flags);
        m.set(LE16, DESC_NEXT, (short) next);
    }

    /**
     * Writes a chain of buffers into consecutive free descriptors (wrapping): {@code bufs} are
     * {address, length, writable(0/1)} triples. Returns the head.
     */
    public int chain(long[]... bufs) {
        int head = nextDesc;
        for (int k = 0; k < bufs.length; k++) {
            int i = (head + k) % size;
            boolean last = k == bufs.length - 1;
            int flags = (bufs[k][2] != 0 ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT);
            writeDesc(i, bufs[k][0], (int) bufs[k][1], flags, (i + 1) % size);
        }
        nextDesc = (head + bufs.length) % size;
        return head;
    }

    /** Puts {@code head} in the available ring without publishing the index. */
    public void stage(int head) {
        availMem.set(LE16, AVAIL_RING + (long) AVAIL_ELEM_SIZE * (availIdx % size), (short) head);
        availIdx = (availIdx + 1) & 0xFFFF;
    }

    /** Publishes the available index (release). */
    public void publish() {
        VarHandle.releaseFence();
        availMem.set(LE16, AVAIL_IDX, (short) availIdx);
    }

    public void offer(int head) {
        stage(head);
        publish();
    }

    /** Sets the published and the local available index to {@code idx} (for hostile tests and restores). */
    public void setAvailIdx(int idx) {
        availIdx = idx & 0xFFFF;
        publish();
    }

    public int availIdx() {
        return availIdx;
    }

    public void setNextDesc(int i) {
        nextDesc = i;
    }

    public void setAvailFlags(int flags) {
        availMem.set(LE16, AVAIL_FLAGS, (short) flags);
    }

    public void setUsedEvent(int idx) {
        availMem.set(LE16, SplitRing.usedEventOffset(size), (short) idx);
    }

    public int usedIdx() {
        VarHandle.acquireFence();
        return Short.toUnsignedInt(usedMem.get(LE16, USED_IDX));
    }

    public int usedFlags() {
        return Short.toUnsignedInt(usedMem.get(LE16, USED_FLAGS));
    }

    public int availEvent() {
        return Short.toUnsignedInt(usedMem.get(LE16, SplitRing.availEventOffset(size)));
    }

    public int usedId(int position) {
        return usedMem.get(LE32, USED_RING + (long) USED_ELEM_SIZE * (position % size) + USED_ELEM_ID);
    }

    public int usedLen(int position) {
        return usedMem.get(LE32, USED_RING + (long) USED_ELEM_SIZE * (position % size) + USED_ELEM_LEN);
    }

    /** Overwrites a used element (so a test can tell which ones the device wrote). */
    public void poisonUsed(int position) {
        usedMem.set(LE32, USED_RING + (long) USED_ELEM_SIZE * (position % size) + USED_ELEM_ID, -1);
        usedMem.set(LE32, USED_RING + (long) USED_ELEM_SIZE * (position % size) + USED_ELEM_LEN, -1);
    }
}

package io.umdev.vhost;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.virtio.spec.SplitRing;
import java.lang.foreign.MemorySegment;

/**
 * A test front-end's guest memory: one memfd, seen by the guest at {@code guestBase} and by the front-end
 * at a made-up virtual address {@code userBase} (the backend only does arithmetic with it), with a split
 * ring driver for one queue written by hand.
 */
final class GuestRam implements AutoCloseable {
    static final long GUEST_BASE = 0x4000_0000L;
    static final long USER_BASE = 0x7f12_3400_0000L;

    final OwnedFd fd;
    final MappedMemory mapping;
    final MemorySegment mem;
    final long size;

    GuestRam(long size) throws Exception {
        this.size = size;
        this.fd = Memfd.create("guest-ram", size);
        this.mapping = MappedMemory.map(fd, 0, size, true);
        this.mem = mapping.segment();
    }

    long gpa(long offset) {
        return GUEST_BASE + offset;
    }

    long uva(long offset) {
        return USER_BASE + offset;
    }

    /** A split ring of {@code num} entries at {@code offset} (descriptors, avail, used, 4 KiB apart). */
    final class SplitQueue {
        final int num;
        final long desc;
        final long avail;
        final long used;
        int nextAvail;
        int lastUsed;

        SplitQueue(long offset, int num) {
            this.num = num;
            this.desc = offset;
            this.avail = offset + 0x1000;
            this.used = offset + 0x2000;
        }

        /** Posts one chain: a readable buffer at {@code out} and a writable one at {@code in} (offsets in RAM). */
        void post(int head, long out, int outLen, long in, int inLen) {
            long d0 = desc + (long) head * SplitRing.DESC_SIZE;
            int next = (head + 1) % num;
            long d1 = desc + (long) next * SplitRing.DESC_SIZE;
            mem.set(JAVA_LONG_UNALIGNED, d0 + SplitRing.DESC_ADDR, gpa(out));
            mem.set(JAVA_INT_UNALIGNED, d0 + SplitRing.DESC_LEN, outLen);
            mem.set(JAVA_SHORT_UNALIGNED, d0 + SplitRing.DESC_FLAGS, (short) SplitRing.DESC_F_NEXT);
            mem.set(JAVA_SHORT_UNALIGNED, d0 + SplitRing.DESC_NEXT, (short) next);
            mem.set(JAVA_LONG_UNALIGNED, d1 + SplitRing.DESC_ADDR, gpa(in));
            mem.set(JAVA_INT_UNALIGNED, d1 + SplitRing.DESC_LEN, inLen);
            mem.set(JAVA_SHORT_UNALIGNED, d1 + SplitRing.DESC_FLAGS, (short) SplitRing.DESC_F_WRITE);
            mem.set(JAVA_SHORT_UNALIGNED, avail + SplitRing.AVAIL_RING + (long) (nextAvail % num) * SplitRing.AVAIL_ELEM_SIZE,
                    (short) head);
            nextAvail = (nextAvail + 1) & 0xFFFF;
            java.lang.invoke.VarHandle.fullFence();
            mem.set(JAVA_SHORT_UNALIGNED, avail + SplitRing.AVAIL_IDX, (short) nextAvail);
        }

        int usedIdx() {
            java.lang.invoke.VarHandle.fullFence();
            return Short.toUnsignedInt(mem.get(JAVA_SHORT_UNALIGNED, used + SplitRing.USED_IDX));
        }

        /** The length of used entry {@code i}. */
        int usedLen(int i) {
            return mem.get(JAVA_INT_UNALIGNED, used + SplitRing.USED_RING + (long) (i % num) * SplitRing.USED_ELEM_SIZE
                    + SplitRing.USED_ELEM_LEN);
        }
    }

    @Override
    public void close() {
        mapping.close();
        fd.close();
    }
}

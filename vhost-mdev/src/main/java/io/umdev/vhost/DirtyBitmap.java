package io.umdev.vhost;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.umdev.linux.MappedMemory;
import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.virtio.transport.DirtyLog;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * vhost's dirty log over the shared memory the front-end passed with SET_LOG_BASE: one bit per 4 KiB
 * page of guest-physical address space, bit {@code page % 8} of byte {@code page / 8}. Set with atomic
 * 64-bit ORs (the same bits on a little-endian host), because several queue threads and the front-end
 * share the words; a word already holding the bit is only read. Pages past the end of the log are not
 * recorded (the front-end sized the log for its memory). Nothing is allocated.
 */
final class DirtyBitmap implements DirtyLog, AutoCloseable {
    /** vhost's log page: VHOST_LOG_PAGE. */
    static final int PAGE_SHIFT = 12;
    private static final int BITS_PER_WORD_SHIFT = 6;
    private static final int WORD_BYTES = Long.BYTES;
    private static final VarHandle WORD = JAVA_LONG.varHandle();

    private final MappedMemory mapping;
    private final MemorySegment log;
    private final long words;

    /** @param log the bitmap: a writable slice of {@code mapping}, its size a multiple of 8 */
    DirtyBitmap(MappedMemory mapping, MemorySegment log) {
        this.mapping = mapping;
        this.log = log;
        this.words = log.byteSize() / WORD_BYTES;
    }

    @Override
    public void markDirty(long iova, long length) {
        if (length <= 0) {
            return;
        }
        long first = iova >>> PAGE_SHIFT;
        long last = (iova + length - 1) >>> PAGE_SHIFT;
        if (Long.compareUnsigned(last, first) < 0) {
            last = -1L >>> PAGE_SHIFT;
        }
        for (long page = first; Long.compareUnsigned(page, last) <= 0; page++) {
            long word = page >>> BITS_PER_WORD_SHIFT;
            if (Long.compareUnsigned(word, words) >= 0) {
                return;
            }
            long bit = 1L << (page & (Long.SIZE - 1));
            long offset = word * WORD_BYTES;
            if (((long) WORD.getAcquire(log, offset) & bit) == 0) {
                WORD.getAndBitwiseOr(log, offset, bit);
            }
        }
    }

    /** Whether the page holding {@code iova} is marked (for tests and tools). */
    boolean isDirty(long iova) {
        long page = iova >>> PAGE_SHIFT;
        long word = page >>> BITS_PER_WORD_SHIFT;
        return Long.compareUnsigned(word, words) < 0
                && ((long) WORD.getAcquire(log, word * WORD_BYTES) & (1L << (page & (Long.SIZE - 1)))) != 0;
    }

    /** Bytes of bitmap. */
    long size() {
        return log.byteSize();
    }

    /** The guest-physical bytes the log covers. */
    long coverage() {
        return words * Long.SIZE * DmaTable.PAGE_SIZE;
    }

    @Override
    public void close() {
        mapping.close();
    }
}

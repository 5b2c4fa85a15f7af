package io.umdev.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A reusable array of {@code struct iovec} in native memory, for {@link RegularFile#readv} and
 * {@link RegularFile#writev}: one system call for a request scattered over many buffers. Filled with
 * {@link #add} from native segments (bounds checked against each segment); a range that continues the
 * previous one in memory extends it. Made once, reused per request: nothing is allocated after
 * {@link #allocate}. Not thread-safe: one owner.
 */
public final class IoVector {
    /** The most entries one preadv/pwritev takes (Linux's IOV_MAX). */
    public static final int IOV_MAX = 1024;
    private static final long ENTRY = 2L * Long.BYTES;
    private static final long BASE = 0;
    private static final long LENGTH = Long.BYTES;

    private final MemorySegment entries;
    private final int capacity;
    private int count;
    private int first;
    private long bytes;

    private IoVector(MemorySegment entries, int capacity) {
        this.entries = entries;
        this.capacity = capacity;
    }

    /** A vector of up to {@code capacity} (1..IOV_MAX) entries, in memory that lives as long as it. */
    public static IoVector allocate(int capacity) {
        if (capacity < 1 || capacity > IOV_MAX) {
            throw new IllegalArgumentException("an iovec array holds 1.." + IOV_MAX + " entries, not " + capacity);
        }
        return new IoVector(Arena.ofAuto().allocate(ENTRY * capacity, Long.BYTES), capacity);
    }

    /** Empties the vector for the next request. */
    public void clear() {
        count = 0;
        first = 0;
        bytes = 0;
    }

    /**
     * Appends [offset, offset+length) of {@code memory}. Returns false (the vector unchanged) when it is
     * full or the memory is not native; the caller then does the request another way.
     */
    public boolean add(MemorySegment memory, long offset, long length) {
        Objects.checkFromIndexSize(offset, length, memory.byteSize());
        if (!memory.isNative()) {
            return false;
        }
        if (length == 0) {
            return true;
        }
        long address = memory.address() + offset;
        if (count > 0) {
            long last = ENTRY * (count - 1);
            long end = entries.get(ValueLayout.JAVA_LONG, last + BASE) + entries.get(ValueLayout.JAVA_LONG, last + LENGTH);
            if (end == address) {
                entries.set(ValueLayout.JAVA_LONG, last + LENGTH, entries.get(ValueLayout.JAVA_LONG, last + LENGTH) + length);
                bytes += length;
                return true;
            }
        }
        if (count == capacity) {
            return false;
        }
        entries.set(ValueLayout.JAVA_LONG, ENTRY * count + BASE, address);
        entries.set(ValueLayout.JAVA_LONG, ENTRY * count + LENGTH, length);
        count++;
        bytes += length;
        return true;
    }

    /** Entries not yet transferred. */
    public int count() {
        return count - first;
    }

    /** Bytes not yet transferred. */
    public long bytes() {
        return bytes;
    }

    /** The entries not yet transferred, as the system call takes them. */
    MemorySegment remaining() {
        return entries.asSlice(ENTRY * first, ENTRY * (count - first));
    }

    /** Marks {@code n} bytes as transferred (after a short preadv/pwritev): whole entries drop, a partial one shrinks. */
    void consume(long n) {
        bytes -= n;
        while (n > 0 && first < count) {
            long at = ENTRY * first;
            long length = entries.get(ValueLayout.JAVA_LONG, at + LENGTH);
            if (n >= length) {
                n -= length;
                first++;
            } else {
                entries.set(ValueLayout.JAVA_LONG, at + BASE, entries.get(ValueLayout.JAVA_LONG, at + BASE) + n);
                entries.set(ValueLayout.JAVA_LONG, at + LENGTH, length - n);
                n = 0;
            }
        }
    }
}

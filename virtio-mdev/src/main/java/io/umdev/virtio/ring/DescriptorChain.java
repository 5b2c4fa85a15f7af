package io.umdev.virtio.ring;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * One available buffer, as the device sees it: a flyweight over the segments of a descriptor chain
 * (direct and indirect descriptors alike), already checked against the DMA table. The device-readable
 * segments come first, then the device-writable ones. Each queue owns one instance and refills it on
 * every {@link Virtqueue#pop()}: valid until the chain is pushed back, and only on the queue's thread.
 *
 * <p>Offsets in {@link #read}/{@link #write} and the field accessors count bytes from the start of the
 * readable part or of the writable part respectively, across segment boundaries. Out-of-range offsets
 * copy fewer bytes (the return value says how many) or, for the field accessors, return -1 / false;
 * nothing here throws on a short or odd-shaped buffer, since the driver chose its shape.
 */
public final class DescriptorChain {
    private static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long U32_MASK = 0xFFFF_FFFFL;

    private final int queue;
    private final MemorySegment[] memory;
    private final long[] offset;
    private final long[] address;
    private final int[] length;
    /** Eight bytes to assemble a field that straddles two segments. */
    private final MemorySegment scratch = MemorySegment.ofArray(new long[1]);

    /** Offset within the segment {@link #locate} found last. */
    private long located;
    private int id;
    private int ringSlots;
    private int count;
    private int readable;
    private long readableBytes;
    private long writableBytes;

    DescriptorChain(int queue, int capacity) {
        this.queue = queue;
        this.memory = new MemorySegment[capacity];
        this.offset = new long[capacity];
        this.address = new long[capacity];
        this.length = new int[capacity];
    }

    void reset() {
        count = 0;
        readable = 0;
        readableBytes = 0;
        writableBytes = 0;
        id = 0;
        ringSlots = 0;
    }

    /** Appends a segment; the caller has checked capacity, permission, and the readable-then-writable order. */
    void add(MemorySegment regionMemory, long regionOffset, long iova, int len, boolean writable) {
        int i = count++;
        if (memory[i] != regionMemory) {
            memory[i] = regionMemory; // usually the same range as last time: spare the GC write barrier
        }
        offset[i] = regionOffset;
        address[i] = iova;
        length[i] = len;
        if (writable) {
            writableBytes += len & U32_MASK;
        } else {
            readable++;
            readableBytes += len & U32_MASK;
        }
    }

    void setId(int id) {
        this.id = id;
    }

    void setRingSlots(int slots) {
        this.ringSlots = slots;
    }

    int ringSlots() {
        return ringSlots;
    }

    /** The queue this chain came from. */
    public int queue() {
        return queue;
    }

    /** The id the used entry carries: the head index (split) or the buffer id (packed). */
    public int id() {
        return id;
    }

    /** How many segments (zero-length descriptors are not counted). */
    public int segmentCount() {
        return count;
    }

    /** How many of the segments are device-readable; they are segments [0, readableCount()). */
    public int readableCount() {
        return readable;
    }

    /** Total bytes the device may read. */
    public long readableLength() {
        return readableBytes;
    }

    /** Total bytes the device may write. */
    public long writableLength() {
        return writableBytes;
    }

    /** The IOVA of segment {@code i}. */
    public long address(int i) {
        return address[i];
    }

    /** The length of segment {@code i}, as an unsigned 32-bit value in an int. */
    public int length(int i) {
        return length[i];
    }

    public boolean isWritable(int i) {
        return i >= readable;
    }

    /**
     * The mapped memory holding segment {@code i}: a whole DMA range, in which the segment starts at
     * {@link #memoryOffset(int)}. For zero-copy I/O on the queue's thread, before the chain is pushed;
     * read-only unless the client mapped the range writable. Writes made this way are covered by the
     * dirty log when the chain is pushed with the written length.
     */
    public MemorySegment memory(int i) {
        return memory[i];
    }

    public long memoryOffset(int i) {
        return offset[i];
    }

    /**
     * Copies up to {@code len} bytes from the readable part at {@code from} into {@code dst} at
     * {@code dstOffset}; returns how many were copied (fewer if the readable part ends first).
     */
    public long read(long from, MemorySegment dst, long dstOffset, long len) {
        return copy(0, readable, from, dst, dstOffset, len, false);
    }

    /** Fills {@code dst} from the start of the readable part; returns the bytes copied. */
    public long readFrom(MemorySegment dst) {
        return read(0, dst, 0, dst.byteSize());
    }

    /**
     * Copies up to {@code len} bytes from {@code src} at {@code srcOffset} into the writable part at
     * {@code to}; returns how many were copied (fewer if the writable part ends first).
     */
    public long write(long to, MemorySegment src, long srcOffset, long len) {
        return copy(readable, count, to, src, srcOffset, len, true);
    }

    /** Copies all of {@code src} to the start of the writable part (as much as fits); returns the bytes copied. */
    public long writeTo(MemorySegment src) {
        return write(0, src, 0, src.byteSize());
    }

    private long copy(int first, int end, long at, MemorySegment buffer, long bufferOffset, long len, boolean toChain) {
        if (at < 0 || len <= 0 || first >= end) {
            return 0;
        }
        long firstLen = length[first] & U32_MASK;
        if (at + len <= firstLen) {
            // The common case: all within the first segment.
            if (toChain) {
                MemorySegment.copy(buffer, bufferOffset, memory[first], offset[first] + at, len);
            } else {
                MemorySegment.copy(memory[first], offset[first] + at, buffer, bufferOffset, len);
            }
            return len;
        }
        long done = 0;
        long skip = at;
        for (int i = first; i < end && done < len; i++) {
            long segLen = length[i] & U32_MASK;
            if (skip >= segLen) {
                skip -= segLen;
                continue;
            }
            long n = Math.min(segLen - skip, len - done);
            if (toChain) {
                MemorySegment.copy(buffer, bufferOffset + done, memory[i], offset[i] + skip, n);
            } else {
                MemorySegment.copy(memory[i], offset[i] + skip, buffer, bufferOffset + done, n);
            }
            done += n;
            skip = 0;
        }
        return done;
    }

    /** The byte at {@code at} in the readable part, or -1 if the readable part is shorter. */
    public int readU8(long at) {
        int i = locate(0, readable, at, Byte.BYTES);
        if (i >= 0) {
            return Byte.toUnsignedInt(memory[i].get(U8, offset[i] + located));
        }
        return gather(at, Byte.BYTES) ? Byte.toUnsignedInt(scratch.get(U8, 0)) : -1;
    }

    /** The little-endian u16 at {@code at} in the readable part, or -1 if the readable part is shorter. */
    public int readLe16(long at) {
        int i = locate(0, readable, at, Short.BYTES);
        if (i >= 0) {
            return Short.toUnsignedInt(memory[i].get(LE16, offset[i] + located));
        }
        return gather(at, Short.BYTES) ? Short.toUnsignedInt(scratch.get(LE16, 0)) : -1;
    }

    /** The little-endian u32 at {@code at} in the readable part, or -1 if the readable part is shorter. */
    public long readLe32(long at) {
        int i = locate(0, readable, at, Integer.BYTES);
        if (i >= 0) {
            return memory[i].get(LE32, offset[i] + located) & U32_MASK;
        }
        return gather(at, Integer.BYTES) ? scratch.get(LE32, 0) & U32_MASK : -1;
    }

    /**
     * The little-endian u64 at {@code at} in the readable part. Every value is possible, so check
     * {@code readableLength() >= at + 8} first; a short buffer reads as 0.
     */
    public long readLe64(long at) {
        int i = locate(0, readable, at, Long.BYTES);
        if (i >= 0) {
            return memory[i].get(LE64, offset[i] + located);
        }
        return gather(at, Long.BYTES) ? scratch.get(LE64, 0) : 0;
    }

    /** Writes a byte at {@code at} in the writable part; false if the writable part is shorter. */
    public boolean writeU8(long at, int value) {
        int i = locate(readable, count, at, Byte.BYTES);
        if (i >= 0) {
            memory[i].set(U8, offset[i] + located, (byte) value);
            return true;
        }
        return false;
    }

    /** Writes a little-endian u16 at {@code at} in the writable part; false if it does not fit. */
    public boolean writeLe16(long at, int value) {
        int i = locate(readable, count, at, Short.BYTES);
        if (i >= 0) {
            memory[i].set(LE16, offset[i] + located, (short) value);
            return true;
        }
        if (at < 0 || at + Short.BYTES > writableBytes) {
            return false;
        }
        scratch.set(LE16, 0, (short) value);
        return write(at, scratch, 0, Short.BYTES) == Short.BYTES;
    }

    /** Writes a little-endian u32 at {@code at} in the writable part; false if it does not fit. */
    public boolean writeLe32(long at, int value) {
        int i = locate(readable, count, at, Integer.BYTES);
        if (i >= 0) {
            memory[i].set(LE32, offset[i] + located, value);
            return true;
        }
        if (at < 0 || at + Integer.BYTES > writableBytes) {
            return false;
        }
        scratch.set(LE32, 0, value);
        return write(at, scratch, 0, Integer.BYTES) == Integer.BYTES;
    }

    /** The segment in [first, end) holding all of [at, at+size), or -1 (straddling, or past the end). */
    private int locate(int first, int end, long at, int size) {
        if (at < 0) {
            return -1;
        }
        long skip = at;
        for (int i = first; i < end; i++) {
            long segLen = length[i] & U32_MASK;
            if (skip < segLen) {
                if (segLen - skip >= size) {
                    located = skip;
                    return i;
                }
                return -1;
            }
            skip -= segLen;
        }
        return -1;
    }

    /** Assembles a field straddling readable segments into {@link #scratch}; false if too short. */
    private boolean gather(long at, int size) {
        return at >= 0 && at + size <= readableBytes && read(at, scratch, 0, size) == size;
    }

    @Override
    public String toString() {
        return "chain " + id + " of queue " + queue + ": " + count + " segments, " + readableBytes + " readable, "
                + writableBytes + " writable bytes";
    }
}

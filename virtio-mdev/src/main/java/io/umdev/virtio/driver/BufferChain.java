package io.umdev.virtio.driver;

/**
 * A reusable scatter list for one buffer offered to the device: device-readable segments first, then
 * device-writable ones, each an (IOVA, length) inside the driver's memory. Fill it, hand it to
 * {@link DriverQueue#add}, clear it, fill it again: no allocation per request.
 */
public final class BufferChain {
    private final long[] iovas;
    private final int[] lengths;
    private int count;
    private int readable;

    /** A chain that can hold up to {@code capacity} segments. */
    public BufferChain(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("a chain holds at least one segment: " + capacity);
        }
        iovas = new long[capacity];
        lengths = new int[capacity];
    }

    /** Empties the chain for reuse; returns it. */
    public BufferChain clear() {
        count = 0;
        readable = 0;
        return this;
    }

    /** Appends a segment the device reads. All of them come before the first writable one. */
    public BufferChain readable(long iova, int length) {
        if (readable != count) {
            throw new IllegalStateException("a device-readable segment after a device-writable one");
        }
        append(iova, length);
        readable++;
        return this;
    }

    /** Appends a segment the device writes. */
    public BufferChain writable(long iova, int length) {
        append(iova, length);
        return this;
    }

    private void append(long iova, int length) {
        if (count == iovas.length) {
            throw new IllegalStateException("the chain holds at most " + iovas.length + " segments");
        }
        if (length <= 0) {
            throw new IllegalArgumentException("segment length must be positive: " + length);
        }
        iovas[count] = iova;
        lengths[count] = length;
        count++;
    }

    public int count() {
        return count;
    }

    public int capacity() {
        return iovas.length;
    }

    /** How many of the segments (the first ones) the device reads. */
    public int readableCount() {
        return readable;
    }

    public long iova(int i) {
        return iovas[i];
    }

    public int length(int i) {
        return lengths[i];
    }

    public boolean isWritable(int i) {
        return i >= readable;
    }

    /** Total bytes the device may write. */
    public long writableBytes() {
        long total = 0;
        for (int i = readable; i < count; i++) {
            total += lengths[i];
        }
        return total;
    }
}

package io.umdev.virtio.spec;

/**
 * The split virtqueue layout (virtio section 2.7): a descriptor table, the driver-written available
 * ring and the device-written used ring. All fields little-endian. Offsets are in bytes from the
 * start of their area; {@code n} is the queue size.
 */
public final class SplitRing {
    /** Largest queue size: indexes are 16-bit and the size must be a power of two. */
    public static final int MAX_SIZE = 32768;

    // Descriptor: addr u64, len u32, flags u16, next u16.
    public static final int DESC_SIZE = 16;
    public static final int DESC_ADDR = 0;
    public static final int DESC_LEN = 8;
    public static final int DESC_FLAGS = 12;
    public static final int DESC_NEXT = 14;
    /** The buffer continues in the descriptor named by {@code next}. */
    public static final int DESC_F_NEXT = 1;
    /** The buffer is device-writable (otherwise device-readable). */
    public static final int DESC_F_WRITE = 2;
    /** The buffer is a table of descriptors (VIRTIO_F_RING_INDIRECT_DESC). */
    public static final int DESC_F_INDIRECT = 4;

    // Available ring: flags u16, idx u16, ring[n] u16, used_event u16.
    public static final int AVAIL_FLAGS = 0;
    public static final int AVAIL_IDX = 2;
    public static final int AVAIL_RING = 4;
    public static final int AVAIL_ELEM_SIZE = 2;
    /** Driver to device: please do not interrupt (ignored under EVENT_IDX). */
    public static final int AVAIL_F_NO_INTERRUPT = 1;

    // Used ring: flags u16, idx u16, ring[n] {id u32, len u32}, avail_event u16.
    public static final int USED_FLAGS = 0;
    public static final int USED_IDX = 2;
    public static final int USED_RING = 4;
    public static final int USED_ELEM_SIZE = 8;
    public static final int USED_ELEM_ID = 0;
    public static final int USED_ELEM_LEN = 4;
    /** Device to driver: please do not kick (ignored under EVENT_IDX). */
    public static final int USED_F_NO_NOTIFY = 1;

    public static final int DESC_ALIGN = 16;
    public static final int AVAIL_ALIGN = 2;
    public static final int USED_ALIGN = 4;

    private SplitRing() {
    }

    public static long descTableSize(int n) {
        return (long) DESC_SIZE * n;
    }

    /** Bytes of the available ring including used_event. */
    public static long availSize(int n) {
        return AVAIL_RING + (long) AVAIL_ELEM_SIZE * n + Short.BYTES;
    }

    /** Bytes of the used ring including avail_event. */
    public static long usedSize(int n) {
        return USED_RING + (long) USED_ELEM_SIZE * n + Short.BYTES;
    }

    /** Offset of {@code used_event} in the available ring. */
    public static long usedEventOffset(int n) {
        return AVAIL_RING + (long) AVAIL_ELEM_SIZE * n;
    }

    /** Offset of {@code avail_event} in the used ring. */
    public static long availEventOffset(int n) {
        return USED_RING + (long) USED_ELEM_SIZE * n;
    }

    public static boolean validSize(int n) {
        return n > 0 && n <= MAX_SIZE && Integer.bitCount(n) == 1;
    }
}

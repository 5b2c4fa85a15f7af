package io.umdev.virtio.spec;

/**
 * The packed virtqueue layout (virtio section 2.8): one descriptor ring both sides write, and two event
 * suppression structures (the driver's in the driver area, the device's in the device area). All
 * fields little-endian.
 */
public final class PackedRing {
    /** Largest queue size: indexes are 15 bits, the 16th is the wrap counter. Need not be a power of two. */
    public static final int MAX_SIZE = 32768;

    // Descriptor: addr u64, len u32, id u16, flags u16.
    public static final int DESC_SIZE = 16;
    public static final int DESC_ADDR = 0;
    public static final int DESC_LEN = 8;
    public static final int DESC_ID = 12;
    public static final int DESC_FLAGS = 14;
    public static final int DESC_F_NEXT = 1;
    public static final int DESC_F_WRITE = 2;
    public static final int DESC_F_INDIRECT = 4;
    public static final int DESC_F_AVAIL_BIT = 7;
    public static final int DESC_F_USED_BIT = 15;
    public static final int DESC_F_AVAIL = 1 << DESC_F_AVAIL_BIT;
    public static final int DESC_F_USED = 1 << DESC_F_USED_BIT;

    // Event suppression structure: off_wrap u16 (offset 15 bits | wrap bit 15), flags u16.
    public static final int EVENT_OFF_WRAP = 0;
    public static final int EVENT_FLAGS = 2;
    public static final int EVENT_SIZE = 4;
    public static final int EVENT_WRAP_BIT = 15;
    public static final int EVENT_OFFSET_MASK = (1 << EVENT_WRAP_BIT) - 1;
    public static final int EVENT_FLAGS_ENABLE = 0;
    public static final int EVENT_FLAGS_DISABLE = 1;
    /** Notify only at the descriptor named by off_wrap (needs RING_EVENT_IDX). */
    public static final int EVENT_FLAGS_DESC = 2;

    public static final int DESC_ALIGN = 16;
    public static final int EVENT_ALIGN = 4;

    /** Wrap counters start at 1 after reset (section 2.8.1). */
    public static final boolean INITIAL_WRAP_COUNTER = true;

    private PackedRing() {
    }

    public static long ringSize(int n) {
        return (long) DESC_SIZE * n;
    }

    public static boolean validSize(int n) {
        return n > 0 && n <= MAX_SIZE;
    }

    /** A descriptor is available when AVAIL matches the wrap counter and USED does not. */
    public static boolean isAvailable(int flags, boolean wrapCounter) {
        boolean avail = (flags & DESC_F_AVAIL) != 0;
        boolean used = (flags & DESC_F_USED) != 0;
        return avail == wrapCounter && used != wrapCounter;
    }

    /** A descriptor is used when AVAIL and USED both equal the wrap counter. */
    public static boolean isUsed(int flags, boolean wrapCounter) {
        boolean avail = (flags & DESC_F_AVAIL) != 0;
        boolean used = (flags & DESC_F_USED) != 0;
        return avail == wrapCounter && used == wrapCounter;
    }

    /** Packs an index and a wrap counter the way off_wrap and vhost's vring base do. */
    public static int offWrap(int index, boolean wrap) {
        return (index & EVENT_OFFSET_MASK) | (wrap ? 1 << EVENT_WRAP_BIT : 0);
    }
}

package io.umdev.virtio.spec;

/**
 * Transport feature bit numbers (virtio 1.2/1.3 section 6, "Reserved Feature Bits"). A feature set is
 * a {@code long} with bit {@code n} set for feature {@code n}; {@link #bit(int)} makes the mask.
 * Device-class bits live beside their class ({@link NetSpec}, {@link BlkSpec}).
 */
public final class VirtioFeature {
    /** Legacy: interrupt even when the queue is empty. Not offered by modern devices. */
    public static final int NOTIFY_ON_EMPTY = 24;
    /** Legacy: no framing assumptions on descriptor boundaries (implied by VERSION_1). */
    public static final int ANY_LAYOUT = 27;
    public static final int RING_INDIRECT_DESC = 28;
    public static final int RING_EVENT_IDX = 29;
    public static final int VERSION_1 = 32;
    public static final int ACCESS_PLATFORM = 33;
    public static final int RING_PACKED = 34;
    public static final int IN_ORDER = 35;
    public static final int ORDER_PLATFORM = 36;
    public static final int SR_IOV = 37;
    public static final int NOTIFICATION_DATA = 38;
    public static final int NOTIF_CONFIG_DATA = 39;
    public static final int RING_RESET = 40;
    public static final int ADMIN_VQ = 41;

    /** The lowest and highest bit numbers reserved for the transport; device-class bits lie outside. */
    public static final int TRANSPORT_FIRST = 24;
    public static final int TRANSPORT_LAST = 41;

    private VirtioFeature() {
    }

    /** The mask of feature {@code bit}. */
    public static long bit(int bit) {
        if (bit < 0 || bit >= Long.SIZE) {
            throw new IllegalArgumentException("feature bit out of range: " + bit);
        }
        return 1L << bit;
    }

    /** The mask of several features. */
    public static long bits(int... bits) {
        long mask = 0;
        for (int b : bits) {
            mask |= bit(b);
        }
        return mask;
    }

    /** Whether {@code features} has {@code bit} set. */
    public static boolean has(long features, int bit) {
        return (features & (1L << bit)) != 0;
    }

    /** The feature numbers in {@code features}, as {@code 0x...(bits 0,5,32)} for logs. */
    public static String describe(long features) {
        StringBuilder sb = new StringBuilder(String.format("0x%x(", features));
        String sep = "";
        for (int b = 0; b < Long.SIZE; b++) {
            if (has(features, b)) {
                sb.append(sep).append(b);
                sep = ",";
            }
        }
        return sb.append(')').toString();
    }
}

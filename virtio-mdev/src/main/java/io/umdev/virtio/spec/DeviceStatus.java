package io.umdev.virtio.spec;

/** Device status bits (virtio section 2.1). Writing 0 resets the device. */
public final class DeviceStatus {
    public static final int RESET = 0;
    public static final int ACKNOWLEDGE = 1;
    public static final int DRIVER = 2;
    public static final int DRIVER_OK = 4;
    public static final int FEATURES_OK = 8;
    public static final int NEEDS_RESET = 0x40;
    public static final int FAILED = 0x80;

    private DeviceStatus() {
    }

    public static boolean has(int status, int bit) {
        return (status & bit) != 0;
    }

    /** The status as names, e.g. {@code ACKNOWLEDGE|DRIVER|FEATURES_OK}, for logs. */
    public static String describe(int status) {
        if (status == RESET) {
            return "RESET";
        }
        StringBuilder sb = new StringBuilder();
        append(sb, status, ACKNOWLEDGE, "ACKNOWLEDGE");
        append(sb, status, DRIVER, "DRIVER");
        append(sb, status, FEATURES_OK, "FEATURES_OK");
        append(sb, status, DRIVER_OK, "DRIVER_OK");
        append(sb, status, NEEDS_RESET, "NEEDS_RESET");
        append(sb, status, FAILED, "FAILED");
        int unknown = status & ~(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK | NEEDS_RESET | FAILED);
        if (unknown != 0) {
            sb.append(sb.isEmpty() ? "" : "|").append(String.format("0x%x", unknown));
        }
        return sb.toString();
    }

    private static void append(StringBuilder sb, int status, int bit, String name) {
        if (has(status, bit)) {
            sb.append(sb.isEmpty() ? "" : "|").append(name);
        }
    }
}

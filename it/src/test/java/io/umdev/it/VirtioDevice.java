package io.umdev.it;

import java.util.Optional;

/** A virtio device as the guest saw it in {@code /sys/bus/virtio/devices}: type, status, negotiated features. */
public record VirtioDevice(
        String name, int deviceId, int vendor, int status, long features, Optional<String> transport,
        Optional<String> driver) {

    /** Virtio device IDs (virtio spec, "Device Types"). */
    public static final int ID_NET = 1;
    public static final int ID_BLOCK = 2;
    /** Device status bits (virtio spec 2.1). */
    public static final int STATUS_ACKNOWLEDGE = 0x01;
    public static final int STATUS_DRIVER = 0x02;
    public static final int STATUS_DRIVER_OK = 0x04;
    public static final int STATUS_FEATURES_OK = 0x08;
    public static final int STATUS_NEEDS_RESET = 0x40;
    public static final int STATUS_FAILED = 0x80;
    /** Feature bit: the device is a modern (virtio 1.x) device. */
    public static final int F_VERSION_1 = 32;
    public static final int F_RING_PACKED = 34;

    static VirtioDevice from(ResultLine line) {
        return new VirtioDevice(
                line.text("name"),
                line.intNumber("device_id"),
                line.intNumber("vendor"),
                line.intNumber("status"),
                line.number("features"),
                line.optionalText("transport"),
                line.optionalText("driver"));
    }

    public boolean hasFeature(int bit) {
        return (features >>> bit & 1) != 0;
    }

    public boolean hasStatus(int bits) {
        return (status & bits) == bits;
    }

    /** The driver finished initialisation and nothing failed. */
    public boolean isLive() {
        return hasStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK)
                && (status & (STATUS_NEEDS_RESET | STATUS_FAILED)) == 0;
    }
}

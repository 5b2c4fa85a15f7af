package io.umdev.virtio.driver;

/** Which virtqueue format the driver asks for. */
public enum RingLayout {
    /** Packed if the device offers RING_PACKED, split otherwise. */
    AUTO,
    /** Split rings, even if the device offers packed ones. */
    SPLIT,
    /** Packed rings; opening fails if the device does not offer RING_PACKED. */
    PACKED
}

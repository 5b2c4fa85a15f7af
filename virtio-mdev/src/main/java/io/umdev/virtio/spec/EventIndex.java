package io.umdev.virtio.spec;

/**
 * The event-index rule (VIRTIO_F_RING_EVENT_IDX, virtio section 2.7.10): the other side asked to be
 * told once its index {@code eventIdx} is passed. Moving the index from {@code oldIdx} to
 * {@code newIdx} passes it when {@code eventIdx} lies in [oldIdx, newIdx), all mod 2^16.
 */
public final class EventIndex {
    private static final int MASK = 0xFFFF;

    private EventIndex() {
    }

    /** Whether moving from {@code oldIdx} to {@code newIdx} crosses {@code eventIdx} (16-bit arithmetic). */
    public static boolean needEvent(int eventIdx, int newIdx, int oldIdx) {
        return ((newIdx - eventIdx - 1) & MASK) < ((newIdx - oldIdx) & MASK);
    }
}

package io.umdev.virtio.transport;

import io.umdev.virtio.spec.PackedRing;

/**
 * A packed queue's position: the next descriptor the device will read and the next it will write,
 * each with its wrap counter. After reset both are (0, true).
 *
 * @param lastAvailIndex 0..32767
 * @param lastUsedIndex 0..32767
 */
public record PackedQueueState(int lastAvailIndex, boolean lastAvailWrap, int lastUsedIndex, boolean lastUsedWrap)
        implements QueueState {
    public PackedQueueState {
        if (lastAvailIndex < 0 || lastAvailIndex > PackedRing.EVENT_OFFSET_MASK || lastUsedIndex < 0
                || lastUsedIndex > PackedRing.EVENT_OFFSET_MASK) {
            throw new IllegalArgumentException("packed queue index out of range: " + lastAvailIndex + "/" + lastUsedIndex);
        }
    }

    /** The state of a packed queue after reset. */
    public static PackedQueueState initial() {
        return new PackedQueueState(0, PackedRing.INITIAL_WRAP_COUNTER, 0, PackedRing.INITIAL_WRAP_COUNTER);
    }

    /** Index and wrap in one 16-bit value (bit 15 = wrap), as vhost's vring base carries them. */
    public int availOffWrap() {
        return PackedRing.offWrap(lastAvailIndex, lastAvailWrap);
    }

    public int usedOffWrap() {
        return PackedRing.offWrap(lastUsedIndex, lastUsedWrap);
    }

    /** The state from vhost's packed vring base halves (bit 15 of each = wrap counter). */
    public static PackedQueueState fromOffWrap(int availOffWrap, int usedOffWrap) {
        int wrapBit = 1 << PackedRing.EVENT_WRAP_BIT;
        return new PackedQueueState(availOffWrap & PackedRing.EVENT_OFFSET_MASK, (availOffWrap & wrapBit) != 0,
                usedOffWrap & PackedRing.EVENT_OFFSET_MASK, (usedOffWrap & wrapBit) != 0);
    }
}

package io.umdev.virtio.transport;

/**
 * A split queue's position: the next available-ring index the device will consume. Every buffer
 * before it counts as used.
 *
 * @param availIndex 0..65535
 */
public record SplitQueueState(int availIndex) implements QueueState {
    private static final int MAX = 0xFFFF;

    public SplitQueueState {
        if (availIndex < 0 || availIndex > MAX) {
            throw new IllegalArgumentException("avail index out of range: " + availIndex);
        }
    }
}

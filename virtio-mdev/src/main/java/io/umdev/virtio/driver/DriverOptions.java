package io.umdev.virtio.driver;

import java.time.Duration;
import java.util.Objects;
import java.util.function.IntConsumer;

/**
 * How the in-process driver sets a device up. Start from {@link #defaults()} and change what matters:
 * {@code DriverOptions.defaults().withRingLayout(RingLayout.SPLIT).withInterruptMode(InterruptMode.POLL)}.
 *
 * @param ringLayout split, packed, or whatever the device offers (packed preferred)
 * @param eventIndex negotiate RING_EVENT_IDX when offered (notification and interrupt suppression by index)
 * @param indirect negotiate RING_INDIRECT_DESC when offered, and put multi-segment buffers in indirect tables
 * @param maxQueueSize upper bound on each queue's size; the device's maximum may be lower (split rings
 *     use the largest power of two that fits)
 * @param maxSegments most segments one buffer may have (the size of each indirect table)
 * @param interruptMode eventfd, device callback, or polling
 * @param interruptCallback with {@link InterruptMode#CALLBACK}: called with the queue index on the
 *     device's thread; ignored otherwise
 * @param iova where to map the driver's memory in the device's DMA space, or -1 to choose a free range
 * @param timeout how long blocking calls (control commands, synchronous I/O) wait for the device
 */
public record DriverOptions(RingLayout ringLayout, boolean eventIndex, boolean indirect, int maxQueueSize,
        int maxSegments, InterruptMode interruptMode, IntConsumer interruptCallback, long iova, Duration timeout) {

    /** The largest queue size virtio allows. */
    public static final int QUEUE_SIZE_LIMIT = 32768;

    public DriverOptions {
        Objects.requireNonNull(ringLayout, "ringLayout");
        Objects.requireNonNull(interruptMode, "interruptMode");
        Objects.requireNonNull(timeout, "timeout");
        if (maxQueueSize < 2 || maxQueueSize > QUEUE_SIZE_LIMIT) {
            throw new IllegalArgumentException("maxQueueSize must be in [2, " + QUEUE_SIZE_LIMIT + "]: " + maxQueueSize);
        }
        if (maxSegments < 1 || maxSegments > QUEUE_SIZE_LIMIT) {
            throw new IllegalArgumentException("maxSegments must be in [1, " + QUEUE_SIZE_LIMIT + "]: " + maxSegments);
        }
        if (interruptMode == InterruptMode.CALLBACK && interruptCallback == null) {
            throw new IllegalArgumentException("InterruptMode.CALLBACK needs an interruptCallback");
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive: " + timeout);
        }
    }

    /** Packed if offered, event index and indirect descriptors on, queues of up to 256, eventfd interrupts. */
    public static DriverOptions defaults() {
        return new DriverOptions(RingLayout.AUTO, true, true, 256, 16, InterruptMode.EVENTFD, null, -1,
                Duration.ofSeconds(10));
    }

    public DriverOptions withRingLayout(RingLayout layout) {
        return new DriverOptions(layout, eventIndex, indirect, maxQueueSize, maxSegments, interruptMode,
                interruptCallback, iova, timeout);
    }

    public DriverOptions withEventIndex(boolean on) {
        return new DriverOptions(ringLayout, on, indirect, maxQueueSize, maxSegments, interruptMode,
                interruptCallback, iova, timeout);
    }

    public DriverOptions withIndirect(boolean on) {
        return new DriverOptions(ringLayout, eventIndex, on, maxQueueSize, maxSegments, interruptMode,
                interruptCallback, iova, timeout);
    }

    public DriverOptions withMaxQueueSize(int size) {
        return new DriverOptions(ringLayout, eventIndex, indirect, size, maxSegments, interruptMode,
                interruptCallback, iova, timeout);
    }

    public DriverOptions withMaxSegments(int segments) {
        return new DriverOptions(ringLayout, eventIndex, indirect, maxQueueSize, segments, interruptMode,
                interruptCallback, iova, timeout);
    }

    public DriverOptions withInterruptMode(InterruptMode mode) {
        return new DriverOptions(ringLayout, eventIndex, indirect, maxQueueSize, maxSegments, mode,
                interruptCallback, iova, timeout);
    }

    /** Callback interrupts: {@code callback} gets the queue index, on the device's thread. */
    public DriverOptions withInterruptCallback(IntConsumer callback) {
        return new DriverOptions(ringLayout, eventIndex, indirect, maxQueueSize, maxSegments, InterruptMode.CALLBACK,
                Objects.requireNonNull(callback, "callback"), iova, timeout);
    }

    public DriverOptions withIova(long at) {
        return new DriverOptions(ringLayout, eventIndex, indirect, maxQueueSize, maxSegments, interruptMode,
                interruptCallback, at, timeout);
    }

    public DriverOptions withTimeout(Duration limit) {
        return new DriverOptions(ringLayout, eventIndex, indirect, maxQueueSize, maxSegments, interruptMode,
                interruptCallback, iova, limit);
    }
}

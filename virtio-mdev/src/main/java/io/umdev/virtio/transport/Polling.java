package io.umdev.virtio.transport;

import io.umdev.mdev.AttributeSpec;
import io.umdev.mdev.Attributes;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Adaptive polling of the driver's rings (what vhost calls busy polling), the {@code poll_us} attribute of
 * software virtio parents.
 *
 * <p>After a pass that emptied a queue, the worker leaves the driver's notifications off and watches the
 * ring for a while instead of sleeping: a driver that makes its next buffer available within that window
 * rings no doorbell and wakes no thread, which over vfio-user saves a message and a thread wake-up per
 * request. Each queue's window adapts between 0 and the limit: it doubles (starting at
 * {@link #GROW_START_NANOS}) when a kick arrives within the limit of the queue's last pass — polling
 * that long would have caught it — and halves when it runs out with nothing found, so a queue with
 * sporadic traffic soon stops polling. The worker yields the CPU between looks, so polling gives way to
 * any other runnable thread, but it does keep a CPU busy while a queue is active: the price of the lower
 * latency. A limit of 0 (the default) turns polling off: the worker sleeps until a kick.
 */
public final class Polling {
    /** The attribute name software virtio parents share. */
    public static final String ATTRIBUTE = "poll_us";
    /** The largest limit: beyond 10 ms a window costs more CPU than any wake-up it saves. */
    public static final long MAX_LIMIT_MICROS = TimeUnit.MILLISECONDS.toMicros(10);
    /** The first window a queue polls for, once its kicks show polling would pay (as KVM's halt polling). */
    static final long GROW_START_NANOS = TimeUnit.MICROSECONDS.toNanos(10);
    /** Windows below this are not worth a pass: polling stops. */
    static final long MIN_WINDOW_NANOS = TimeUnit.MICROSECONDS.toNanos(1);

    /** The attribute's specification, for a parent's type. */
    public static AttributeSpec attribute() {
        return AttributeSpec.integer(ATTRIBUTE, "adaptive polling of the rings, the longest window in µs "
                        + "(0: off; the worker sleeps until a kick). Saves a doorbell and a wake-up per request "
                        + "at the cost of a CPU kept busy while the device is active")
                .withRange(0, MAX_LIMIT_MICROS)
                .withDefault("0");
    }

    /** The limit an instance's attributes ask for. */
    public static Duration limit(Attributes attributes) {
        return Duration.ofNanos(TimeUnit.MICROSECONDS.toNanos(attributes.getLong(ATTRIBUTE)));
    }

    private Polling() {
    }
}

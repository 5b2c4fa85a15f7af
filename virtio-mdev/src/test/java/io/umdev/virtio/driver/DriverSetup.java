package io.umdev.virtio.driver;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** The driver configurations the tests run through: both ring layouts, each interrupt mode, indirect or not. */
enum DriverSetup {
    SPLIT_EVENTFD(RingLayout.SPLIT, InterruptMode.EVENTFD, true, true),
    SPLIT_POLL_DIRECT(RingLayout.SPLIT, InterruptMode.POLL, false, false),
    SPLIT_CALLBACK(RingLayout.SPLIT, InterruptMode.CALLBACK, true, true),
    PACKED_EVENTFD(RingLayout.PACKED, InterruptMode.EVENTFD, true, true),
    PACKED_POLL_DIRECT(RingLayout.PACKED, InterruptMode.POLL, false, false),
    PACKED_CALLBACK_NO_EVENT_IDX(RingLayout.PACKED, InterruptMode.CALLBACK, true, false);

    /** Interrupts seen by the callback configurations, across the run (only to show they arrive). */
    static final AtomicLong CALLBACKS = new AtomicLong();

    final RingLayout layout;
    final InterruptMode interrupts;
    final boolean indirect;
    final boolean eventIndex;

    DriverSetup(RingLayout layout, InterruptMode interrupts, boolean indirect, boolean eventIndex) {
        this.layout = layout;
        this.interrupts = interrupts;
        this.indirect = indirect;
        this.eventIndex = eventIndex;
    }

    DriverOptions options(int maxQueueSize) {
        DriverOptions o = DriverOptions.defaults().withRingLayout(layout).withIndirect(indirect)
                .withEventIndex(eventIndex).withMaxQueueSize(maxQueueSize).withTimeout(Duration.ofSeconds(20));
        return interrupts == InterruptMode.CALLBACK ? o.withInterruptCallback(q -> CALLBACKS.incrementAndGet())
                : o.withInterruptMode(interrupts);
    }
}

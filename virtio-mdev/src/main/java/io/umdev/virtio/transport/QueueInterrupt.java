package io.umdev.virtio.transport;

import io.umdev.linux.EventFd;
import java.util.Objects;

/**
 * How a device tells the driver that a queue has used buffers (vDPA's {@code set_vq_cb}). Called on
 * the data path: must be cheap and never block. The EventFd form lets a parent's worker signal the
 * client's call eventfd (and through it the guest's interrupt) with no hop through another thread.
 */
@FunctionalInterface
public interface QueueInterrupt {
    /** No interrupt wanted (the driver polls). */
    QueueInterrupt NONE = () -> {
    };

    void signal();

    /** Signals {@code eventFd}; a closed or broken eventfd is ignored (the peer went away). */
    static QueueInterrupt of(EventFd eventFd) {
        Objects.requireNonNull(eventFd, "eventFd");
        return eventFd::signal;
    }
}

package io.umdev.virtio.transport;

import io.umdev.virtio.ring.DescriptorChain;

/**
 * What a {@link SoftwareVirtioDevice} does with each available buffer of one queue: called on the
 * device's worker thread, once per descriptor chain, in ring order. It reads the request from the
 * chain's readable part, writes its answer into the writable part, and returns how many bytes it
 * wrote; the device then marks the chain used. It must not keep the chain after returning.
 *
 * <p>A request the driver got wrong in a way the device class defines (an unknown blk request type)
 * is answered with that class's error status. A driver breaking the transport's rules is reported with
 * {@link SoftwareVirtioDevice#needsReset(String)}. A handler must not throw; if it does, the device
 * treats it as a device fault and goes NEEDS_RESET.
 */
@FunctionalInterface
public interface RequestHandler {
    /**
     * Returned to leave the chain available, unconsumed, and stop servicing the queue until the next
     * kick or {@link SoftwareVirtioDevice#requestService(int)}: a receive queue with nothing to receive.
     */
    int DEFER = -1;

    /** Handles one request; returns the bytes written into the chain's writable part, or {@link #DEFER}. */
    int handle(DescriptorChain chain);
}

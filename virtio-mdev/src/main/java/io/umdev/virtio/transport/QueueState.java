package io.umdev.virtio.transport;

/**
 * Where a queue stands, to save and restore across suspend, migration or a backend restart (vDPA's
 * {@code vdpa_vq_state}, vhost's vring base). Split and packed queues keep different state.
 */
public sealed interface QueueState permits SplitQueueState, PackedQueueState {
}

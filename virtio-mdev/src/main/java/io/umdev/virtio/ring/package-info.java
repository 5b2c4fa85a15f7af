/**
 * The device side of the virtqueue: {@link io.umdev.virtio.ring.Virtqueue} reads the driver's
 * available buffers from split or packed rings in the instance's DMA memory, hands each out as a
 * reusable {@link io.umdev.virtio.ring.DescriptorChain} flyweight, and publishes used buffers with
 * event-index and notification suppression. Every address and index the driver writes is validated;
 * a bad one breaks the queue with a reason instead of throwing. No allocation and no lock per buffer.
 */
package io.umdev.virtio.ring;

/**
 * The network between sim-net devices: Ethernet facts ({@link io.umdev.simnet.l2.Ethernet}), a device's
 * receive filter ({@link io.umdev.simnet.l2.RxFilter}), its attachment ({@link io.umdev.simnet.l2.Port})
 * with bounded lock-free mailboxes of preallocated frame buffers ({@link io.umdev.simnet.l2.FrameMailbox}),
 * and the learning switch ({@link io.umdev.simnet.l2.LearningSwitch}, its
 * {@link io.umdev.simnet.l2.ForwardingTable MAC table}, and the named {@link io.umdev.simnet.l2.Switches}).
 * Knows nothing of virtio.
 */
package io.umdev.simnet.l2;

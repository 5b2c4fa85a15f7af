/**
 * The in-process virtio driver, the userspace {@code virtio_vdpa}: drives any device behind the
 * transport API through real rings in memory the driver owns and maps into the device's DMA context.
 * {@link io.umdev.virtio.driver.VirtioDriver} does the status sequence, features and queues (split or
 * packed); {@link io.umdev.virtio.driver.VirtioNetPort} and {@link io.umdev.virtio.driver.VirtioBlockDisk}
 * are the net and block drivers on top; {@link io.umdev.virtio.driver.VirtioInprocDriver} binds them on
 * the bus when an instance's driver override names it.
 */
package io.umdev.virtio.driver;

/**
 * The vfio-user server: listens on a Unix socket for one device, serves one client at a time, and
 * turns each command into a call on the {@link io.umdev.vfiouser.server.VfioUserDevice} SPI. Knows
 * regions, IRQ indexes and DMA maps as numbers and descriptors; knows nothing of PCI or virtio.
 */
package io.umdev.vfiouser.server;

/**
 * The one adapter that serves any {@link io.umdev.emudev.EmuDevice} through the vfio-user server's
 * device SPI: VFIO PCI region and IRQ indexes, mmap-able BAR memory with sparse areas, doorbell
 * eventfds, reset, and the device lifecycle following the client.
 */
package io.umdev.emudev.vfiouser;

/**
 * Emulated devices after DPDK's emudev design: an {@code EmuDevice} owns its regions, IRQs, DMA
 * memory table, queues and doorbells, and the PCI model; it is served over vfio-user by one adapter
 * and imports no socket. Arrives with the emudev issue.
 */
package io.umdev.emudev;

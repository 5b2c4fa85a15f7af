/**
 * The virtio-pci personality: any device behind the transport API presented as a modern (virtio 1.x,
 * non-transitional) virtio-pci function — an emudev {@code EmuDevice} with the vendor capabilities,
 * common configuration, notify, ISR and device configuration areas in BAR4, MSI-X in BAR1 and INTx as a
 * fallback — and {@link io.umdev.virtio.pci.VirtioPciDriver}, the bus driver that serves every virtio
 * instance that way on a vfio-user socket. {@link io.umdev.virtio.pci.VirtioPciLayout} holds every offset.
 */
package io.umdev.virtio.pci;

/**
 * The virtio transport API ({@link io.umdev.virtio.transport.VirtioDevice}, after the kernel's
 * {@code vdpa_config_ops}) that every virtio-capable parent offers and every virtio driver uses, and
 * {@link io.umdev.virtio.transport.SoftwareVirtioDevice}, the shared core of software parents.
 */
package io.umdev.virtio.transport;

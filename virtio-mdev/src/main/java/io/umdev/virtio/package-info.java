/**
 * The virtio transport API every virtio-capable parent implements (after {@code vdpa_config_ops}),
 * the virtqueue engine, and the virtio-mdev driver. Arrives with the virtio issues.
 */
package io.umdev.virtio;

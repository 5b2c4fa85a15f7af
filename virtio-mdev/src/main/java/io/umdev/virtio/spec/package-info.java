/**
 * The virtio facts, defined once: feature bits, device status bits, device IDs, the split and packed
 * ring layouts, the event-index rule, and the device-class layouts of virtio-net and virtio-blk. The
 * engine, the drivers, the parents and the vhost-user backend all read them from here.
 */
package io.umdev.virtio.spec;

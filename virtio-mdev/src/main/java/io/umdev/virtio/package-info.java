/**
 * virtio over umdev: the facts ({@code spec}), the transport API and software device core
 * ({@code transport}), the device-side virtqueue engine ({@code ring}), and the drivers built on them.
 */
package io.umdev.virtio;

/**
 * sim-blk: the software virtio-blk parent. A RAM or file-backed disk ({@link io.umdev.simblk.BlockStore})
 * behind the virtio transport API, offered as parent {@code sim-blk}, type {@code blk}, through
 * {@link java.util.ServiceLoader}.
 */
package io.umdev.simblk;

/**
 * The vhost-mdev driver: a virtio instance served as a vhost-user backend. {@link io.umdev.vhost.VhostUserServer}
 * listens on one Unix socket per instance and runs a {@link io.umdev.vhost.VhostUserSession} per connected
 * front-end (QEMU's vhost-user devices, DPDK's virtio-user), translating vhost messages into calls of the
 * virtio transport API; {@link io.umdev.vhost.VhostMdevDriver} binds instances on the bus.
 */
package io.umdev.vhost;

/**
 * The vhost-mdev driver: a virtio instance exposed as a vhost-user backend socket. Arrives with the
 * vhost-mdev issue.
 */
package io.umdev.vhost;

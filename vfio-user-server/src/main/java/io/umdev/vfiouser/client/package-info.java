/**
 * The vfio-user client: the same protocol from the other side. Used by tests against the server, and by
 * parents that drive a device exported by another vfio-user server. It maps its memory for the server
 * (with an fd, or served by message) and answers the server's DMA_READ/DMA_WRITE.
 */
package io.umdev.vfiouser.client;

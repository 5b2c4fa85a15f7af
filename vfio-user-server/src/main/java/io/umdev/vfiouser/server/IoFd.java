package io.umdev.vfiouser.server;

import io.umdev.linux.OwnedFd;

/**
 * A doorbell the client's hypervisor can ring without a message: for [offset, offset+size) of a region,
 * an eventfd the client registers as a KVM ioeventfd (RegionIoFdsPayload.TYPE_IOEVENTFD), optionally
 * only for writes of {@code datamatch}. The device owns {@code fd}; the server only passes it on.
 */
public record IoFd(long offset, long size, OwnedFd fd, int type, int flags, long datamatch) {
}

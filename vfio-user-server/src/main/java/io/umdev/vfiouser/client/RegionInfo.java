package io.umdev.vfiouser.client;

import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.protocol.RegionCapability;
import io.umdev.vfiouser.protocol.RegionInfoPayload;
import java.util.List;

/**
 * A region as the server describes it, with the fd to mmap when it is mappable (the caller owns it).
 */
public record RegionInfo(int index, int flags, long size, long mmapOffset, List<RegionCapability> capabilities,
        OwnedFd fd) {
    public boolean readable() {
        return (flags & RegionInfoPayload.FLAG_READ) != 0;
    }

    public boolean writable() {
        return (flags & RegionInfoPayload.FLAG_WRITE) != 0;
    }

    public boolean mappable() {
        return (flags & RegionInfoPayload.FLAG_MMAP) != 0;
    }
}

package io.umdev.vfiouser.server;

import io.umdev.linux.Errno;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.protocol.RegionCapability;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One region index of a device (a BAR, config space, ...). The server checks index, access flags,
 * offset and length against {@link #size()} before calling {@link #read} or {@link #write}, so those
 * see only in-range accesses. They answer 0 or an errno.
 */
public interface Region {
    /** Bytes in the region; 0 for an index the device does not use. */
    long size();

    /** RegionInfoPayload.FLAG_READ, FLAG_WRITE and FLAG_MMAP as they apply. */
    int flags();

    /** The fd the client mmaps when FLAG_MMAP is set (owned by the device), else null. */
    default OwnedFd mmapFd() {
        return null;
    }

    /** The offset into {@link #mmapFd()} at which the region starts. */
    default long mmapOffset() {
        return 0;
    }

    /** Capabilities to report: sparse mmap areas, region type. */
    default List<RegionCapability> capabilities() {
        return List.of();
    }

    /** Reads {@code dst.byteSize()} bytes at {@code offset} into {@code dst}; 0 or an errno. */
    int read(long offset, MemorySegment dst);

    /** Writes {@code src} at {@code offset}; 0 or an errno. */
    int write(long offset, MemorySegment src);

    /** Doorbells of this region the client may wire to ioeventfds. */
    default List<IoFd> ioFds() {
        return List.of();
    }

    /** An index the device does not use: size 0, no access. */
    static Region absent() {
        return AbsentRegion.INSTANCE;
    }
}

/** The region of an unused index. */
final class AbsentRegion implements Region {
    static final AbsentRegion INSTANCE = new AbsentRegion();

    private AbsentRegion() {
    }

    @Override
    public long size() {
        return 0;
    }

    @Override
    public int flags() {
        return 0;
    }

    @Override
    public int read(long offset, MemorySegment dst) {
        return Errno.EINVAL;
    }

    @Override
    public int write(long offset, MemorySegment src) {
        return Errno.EINVAL;
    }
}

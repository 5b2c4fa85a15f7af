package io.umdev.vfiouser.dma;

import io.umdev.linux.MappedMemory;
import io.umdev.linux.OwnedFd;
import java.lang.foreign.MemorySegment;

/**
 * One mapped range of client memory, [iova, iova+size). Either fd-backed (mapped once, read in place
 * through {@link #segment()}) or message-backed ({@link #segment()} is null).
 */
public final class DmaRegion {
    private final long iova;
    private final long size;
    private final boolean readable;
    private final boolean writable;
    private final OwnedFd fd;
    private final long fileOffset;
    private final MappedMemory memory;
    private final MemorySegment segment;

    DmaRegion(long iova, long size, boolean readable, boolean writable, OwnedFd fd, long fileOffset, MappedMemory memory) {
        this.iova = iova;
        this.size = size;
        this.readable = readable;
        this.writable = writable;
        this.fd = fd;
        this.fileOffset = fileOffset;
        this.memory = memory;
        this.segment = memory == null ? null : memory.segment();
    }

    public long iova() {
        return iova;
    }

    public long size() {
        return size;
    }

    /** The first IOVA past the region (unsigned; 0 if the region ends at the top of the space). */
    public long end() {
        return iova + size;
    }

    public boolean readable() {
        return readable;
    }

    public boolean writable() {
        return writable;
    }

    public boolean permits(DmaDirection direction) {
        return direction == DmaDirection.READ ? readable : writable;
    }

    /** The client's fd for this range, or null for a message-backed range. Owned by the table. */
    public OwnedFd fd() {
        return fd;
    }

    public long fileOffset() {
        return fileOffset;
    }

    /** The mapping, or null for a message-backed range. Read-only if the client mapped it so. */
    public MemorySegment segment() {
        return segment;
    }

    /** Offset of {@code address} within the region; the caller has checked that it is inside. */
    public long offsetOf(long address) {
        return address - iova;
    }

    /** True if [address, address+length) lies wholly inside this region (unsigned arithmetic). */
    public boolean contains(long address, long length) {
        long offset = address - iova;
        return Long.compareUnsigned(address, iova) >= 0 && Long.compareUnsigned(offset, size) <= 0
                && Long.compareUnsigned(length, size - offset) <= 0;
    }

    void unmap() {
        if (memory != null) {
            memory.close();
        }
        if (fd != null) {
            fd.close();
        }
    }

    @Override
    public String toString() {
        return String.format("[0x%x, +0x%x) %s%s %s", iova, size, readable ? "r" : "-", writable ? "w" : "-",
                memory != null ? "mapped" : "by message");
    }
}

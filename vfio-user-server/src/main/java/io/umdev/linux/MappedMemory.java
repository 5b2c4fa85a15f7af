package io.umdev.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A shared mapping of (part of) a file, seen as a {@link MemorySegment}. The segment belongs to a
 * shared arena: after {@link #close()} every access through it fails with an exception instead of
 * touching unmapped memory. A read-only mapping hands out a read-only segment, so a stray write is an
 * exception too, never a fault.
 */
@SuppressWarnings("restricted")
public final class MappedMemory implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MappedMemory.class);

    /** The system page size: mmap offsets must be multiples of it. */
    public static final long PAGE_SIZE = pageSize();

    private final Arena arena;
    private final MemorySegment segment;
    private final boolean writable;

    private MappedMemory(Arena arena, MemorySegment segment, boolean writable) {
        this.arena = arena;
        this.segment = segment;
        this.writable = writable;
    }

    /**
     * Maps {@code length} bytes of {@code fd} starting at {@code offset} (any offset: the mapping starts
     * at the page below it), MAP_SHARED, readable, and writable if asked.
     */
    public static MappedMemory map(OwnedFd fd, long offset, long length, boolean writable) throws LinuxException {
        if (offset < 0 || length <= 0 || Long.MAX_VALUE - offset < length) {
            throw new LinuxException("mmap", Errno.EINVAL);
        }
        long pageOffset = offset & (PAGE_SIZE - 1);
        long mapOffset = offset - pageOffset;
        long mapLength = length + pageOffset;
        int prot = LibC.PROT_READ | (writable ? LibC.PROT_WRITE : 0);
        if (!fd.acquire()) {
            throw new LinuxException("mmap", Errno.EBADF);
        }
        long address;
        try {
            address = LibC.mmap(mapLength, prot, LibC.MAP_SHARED, fd.fd(), mapOffset);
        } finally {
            fd.release();
        }
        Arena arena = Arena.ofShared();
        MemorySegment whole = MemorySegment.ofAddress(address).reinterpret(mapLength, arena, unused -> unmap(address, mapLength));
        MemorySegment view = whole.asSlice(pageOffset, length);
        return new MappedMemory(arena, writable ? view : view.asReadOnly(), writable);
    }

    private static void unmap(long address, long length) {
        try {
            LibC.munmap(address, length);
        } catch (LinuxException e) {
            LOG.error("munmap of {} bytes at 0x{}: {}", length, Long.toHexString(address), e.getMessage());
        }
    }

    public MemorySegment segment() {
        return segment;
    }

    public long length() {
        return segment.byteSize();
    }

    public boolean writable() {
        return writable;
    }

    /** Unmaps; idempotent. Must not race with accesses (owners wait for their users first). */
    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    private static long pageSize() {
        try {
            return LibC.sysconf(LibC.SC_PAGESIZE);
        } catch (LinuxException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}

package io.umdev.simblk;

import io.umdev.linux.LinuxException;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.RegularFile;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A disk in RAM: a memfd of the disk's size, mapped shared. Pages are allocated as they are first
 * written, so an idle disk costs almost nothing; discard and write-zeroes with unmap punch holes,
 * which gives the pages back. Contents end with the store.
 */
public final class RamStore implements BlockStore {
    private final RegularFile memfd;
    private final MappedMemory memory;
    private final MemorySegment disk;
    private final long capacity;
    private final boolean readOnly;

    private RamStore(RegularFile memfd, MappedMemory memory, boolean readOnly) {
        this.memfd = memfd;
        this.memory = memory;
        this.disk = memory.segment();
        this.capacity = disk.byteSize();
        this.readOnly = readOnly;
    }

    /**
     * A zeroed disk of {@code capacity} bytes (positive). A read-only RAM disk is all zeros for life; the
     * device refuses writes to it, the store itself does not.
     */
    public static RamStore create(String name, long capacity, boolean readOnly) throws LinuxException {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive: " + capacity);
        }
        RegularFile memfd = RegularFile.adopt(Memfd.create(name, capacity));
        try {
            return new RamStore(memfd, MappedMemory.map(memfd.fd(), 0, capacity, true), readOnly);
        } catch (LinuxException | RuntimeException e) {
            memfd.close();
            throw e;
        }
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, MemorySegment memory, long memoryOffset, long length) {
        Objects.checkFromIndexSize(offset, length, capacity);
        MemorySegment.copy(disk, offset, memory, memoryOffset, length);
    }

    @Override
    public void write(long offset, MemorySegment memory, long memoryOffset, long length) {
        Objects.checkFromIndexSize(offset, length, capacity);
        MemorySegment.copy(memory, memoryOffset, disk, offset, length);
    }

    @Override
    public void flush() {
        // Nothing is more durable than the mapping itself.
    }

    @Override
    public void discard(long offset, long length) throws LinuxException {
        Objects.checkFromIndexSize(offset, length, capacity);
        memfd.punchHole(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) throws LinuxException {
        Objects.checkFromIndexSize(offset, length, capacity);
        if (unmap) {
            memfd.punchHole(offset, length);
        } else {
            disk.asSlice(offset, length).fill((byte) 0);
        }
    }

    @Override
    public long syncs() {
        return 0;
    }

    @Override
    public String describe() {
        return "RAM" + (readOnly ? " (read-only), " : ", ") + capacity + " bytes";
    }

    @Override
    public void close() {
        memory.close();
        memfd.close();
    }
}

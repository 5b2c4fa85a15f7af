package io.umdev.virtio.testing;

import io.umdev.linux.LinuxException;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.dma.DmaException;
import io.umdev.vfiouser.dma.DmaTable;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Real client memory for tests: a memfd whose middle part is mapped into a real {@link DmaTable} at an
 * IOVA, with a guard page on each side that is not in the table and is filled with canary bytes. The
 * test reaches all of it (guards included) through its own mapping of the same memfd, as a driver
 * would reach guest RAM.
 */
public final class GuestMemory implements AutoCloseable {
    public static final long GUARD = 4096;
    public static final byte CANARY = (byte) 0xA5;

    private final long iova;
    private final long size;
    private final MappedMemory all;
    private final MemorySegment memory;
    private final OwnedFd fd;
    /** The memfd behind the memory, for {@link #shrinkFile()}. */
    private final OwnedFd file;

    private GuestMemory(long iova, long size, MappedMemory all, OwnedFd fd, OwnedFd file) {
        this.iova = iova;
        this.size = size;
        this.all = all;
        this.memory = all.segment();
        this.fd = fd;
        this.file = file;
    }

    /**
     * Memory for a client to map itself (vfio-user DMA_MAP of {@link #fd()} at file offset {@link #GUARD}):
     * {@code size} bytes meant for {@code iova}, guards around them, mapped into no table here.
     */
    public static GuestMemory shared(long iova, long size) throws LinuxException {
        OwnedFd fd = Memfd.create("guest", size + 2 * GUARD);
        try {
            MappedMemory all = MappedMemory.map(fd, 0, size + 2 * GUARD, true);
            all.segment().fill(CANARY);
            return new GuestMemory(iova, size, all, fd, fd);
        } catch (LinuxException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** The memfd behind a {@link #shared} memory (null otherwise); the file offset of the IOVA range is {@link #GUARD}. */
    public OwnedFd fd() {
        return fd;
    }

    /** Maps {@code size} bytes at {@code iova} into {@code table} with the given permissions. */
    public static GuestMemory map(DmaTable table, long iova, long size, boolean readable, boolean writable)
            throws LinuxException, DmaException {
        OwnedFd fd = Memfd.create("guest", size + 2 * GUARD);
        try {
            MappedMemory all = MappedMemory.map(fd, 0, size + 2 * GUARD, true);
            all.segment().fill(CANARY);
            table.map(iova, size, readable, writable, fd.duplicate(), GUARD);
            GuestMemory mapped = new GuestMemory(iova, size, all, null, fd);
            fd = null;
            return mapped;
        } finally {
            if (fd != null) {
                fd.close();
            }
        }
    }

    public static GuestMemory map(DmaTable table, long iova, long size) throws LinuxException, DmaException {
        return map(table, iova, size, true, true);
    }

    public long iova() {
        return iova;
    }

    public long size() {
        return size;
    }

    /** The first IOVA past the mapping. */
    public long end() {
        return iova + size;
    }

    /** The memory at [address, address+length); the address may reach into the guards. */
    public MemorySegment at(long address, long length) {
        return memory.asSlice(GUARD + address - iova, length);
    }

    public void fill(byte value) {
        memory.asSlice(GUARD, size).fill(value);
    }

    public byte get(long address) {
        return memory.get(ValueLayout.JAVA_BYTE, GUARD + address - iova);
    }

    /** True if every guard byte still holds the canary: nothing wrote outside the mapped range. */
    public boolean guardsIntact() {
        return allEqual(memory.asSlice(0, GUARD), CANARY) && allEqual(memory.asSlice(GUARD + size, GUARD), CANARY);
    }

    /** True if every byte of [address, address+length) equals {@code value}. */
    public boolean unchanged(long address, long length, byte value) {
        return allEqual(at(address, length), value);
    }

    private static boolean allEqual(MemorySegment s, byte value) {
        for (long i = 0; i < s.byteSize(); i++) {
            if (s.get(ValueLayout.JAVA_BYTE, i) != value) {
                return false;
            }
        }
        return true;
    }

    /**
     * What a hostile client can do to memory it shared: shrink the file to nothing under the mappings.
     * Every access to this memory faults afterwards, the test's own included: only {@link #close()} is safe.
     */
    public void shrinkFile() throws IOException {
        try (FileChannel channel = FileChannel.open(Path.of("/proc/self/fd/" + file.fd()), StandardOpenOption.WRITE)) {
            channel.truncate(0);
        }
    }

    @Override
    public void close() {
        all.close();
        file.close();
    }
}

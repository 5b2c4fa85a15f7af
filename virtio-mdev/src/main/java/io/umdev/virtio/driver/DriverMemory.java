package io.umdev.virtio.driver;

import io.umdev.linux.LinuxException;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.dma.DmaException;
import io.umdev.vfiouser.dma.DmaRegion;
import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.linux.Errno;
import java.lang.foreign.MemorySegment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Memory the driver owns and the device may reach, as a guest's RAM would be: one memfd, mapped here
 * and mapped into the device's DMA table at an IOVA the driver chose. Rings and buffers are slices of
 * it; the device sees them only through its DMA table, so its bounds checks apply to the driver too.
 */
public final class DriverMemory implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DriverMemory.class);

    /** IOVAs chosen by the driver are aligned to this, so a mapping is easy to recognise in a dump. */
    private static final long IOVA_ALIGNMENT = 1L << 21;
    /** How often to pick another IOVA when someone else mapped the chosen one meanwhile. */
    private static final int MAP_ATTEMPTS = 4;

    private final DmaTable table;
    private final long iova;
    private final long size;
    private final OwnedFd fd;
    private final MappedMemory local;
    private boolean closed;

    private DriverMemory(DmaTable table, long iova, long size, OwnedFd fd, MappedMemory local) {
        this.table = table;
        this.iova = iova;
        this.size = size;
        this.fd = fd;
        this.local = local;
    }

    /**
     * Creates {@code size} bytes (rounded up to whole pages) of zeroed shared memory and maps it
     * readable and writable into {@code table} at {@code preferredIova} if that is free, else above
     * every range mapped now.
     *
     * @param preferredIova where to map it, or -1 to let the driver choose
     */
    public static DriverMemory map(DmaTable table, long size, long preferredIova, String name)
            throws VirtioDriverException {
        long page = Math.max(DmaTable.PAGE_SIZE, MappedMemory.PAGE_SIZE);
        long bytes = (Math.max(size, 1) + page - 1) & -page;
        OwnedFd fd;
        MappedMemory local;
        try {
            fd = Memfd.create(name, bytes);
        } catch (LinuxException e) {
            throw new VirtioDriverException(e.errno(), "creating " + bytes + " bytes of driver memory: "
                    + e.getMessage());
        }
        try {
            local = MappedMemory.map(fd, 0, bytes, true);
        } catch (LinuxException e) {
            fd.close();
            throw new VirtioDriverException(e.errno(), "mapping driver memory: " + e.getMessage());
        }
        DmaException last = null;
        for (int attempt = 0; attempt < MAP_ATTEMPTS; attempt++) {
            long iova = attempt == 0 && preferredIova >= 0 ? preferredIova : freeIova(table, bytes);
            try {
                table.map(iova, bytes, true, true, fd.duplicate(), 0);
                LOG.debug("driver memory {}: 0x{} bytes at IOVA 0x{}", name, Long.toHexString(bytes),
                        Long.toHexString(iova));
                return new DriverMemory(table, iova, bytes, fd, local);
            } catch (DmaException e) {
                last = e;
                if (e.errno() != Errno.EEXIST) {
                    break;
                }
            } catch (LinuxException e) {
                local.close();
                fd.close();
                throw new VirtioDriverException(e.errno(), "duplicating the driver memory fd: " + e.getMessage());
            }
        }
        local.close();
        fd.close();
        throw new VirtioDriverException(last.errno(), "mapping driver memory into the device's DMA table: "
                + last.getMessage());
    }

    /** The lowest aligned IOVA above every mapped range (or {@link #IOVA_ALIGNMENT} in an empty table). */
    private static long freeIova(DmaTable table, long bytes) {
        long top = IOVA_ALIGNMENT;
        for (DmaRegion r : table.regions()) {
            if (Long.compareUnsigned(r.end(), top) > 0) {
                top = r.end();
            }
        }
        long iova = (top + IOVA_ALIGNMENT - 1) & -IOVA_ALIGNMENT;
        if (Long.compareUnsigned(iova + bytes, iova) < 0) {
            throw new IllegalStateException("no IOVA space left above the mapped ranges");
        }
        return iova;
    }

    /** The IOVA of the first byte. */
    public long iova() {
        return iova;
    }

    public long size() {
        return size;
    }

    /** The IOVA the device uses for {@code offset} into this memory. */
    public long iovaOf(long offset) {
        return iova + offset;
    }

    /** The whole memory, as the driver sees it. */
    public MemorySegment segment() {
        return local.segment();
    }

    /** A slice of the memory, as the driver sees it. */
    public MemorySegment slice(long offset, long length) {
        return local.segment().asSlice(offset, length);
    }

    /**
     * Unmaps the memory from the device's DMA table (waiting for any device access in progress), then
     * here, and closes the memfd. Reset the device first. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            table.unmap(iova, size);
        } catch (DmaException e) {
            // The bus unmaps everything when an instance goes; then there is nothing left to remove.
            LOG.debug("driver memory at IOVA 0x{} was already unmapped: {}", Long.toHexString(iova), e.getMessage());
        }
        local.close();
        fd.close();
    }
}

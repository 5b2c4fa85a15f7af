package io.umdev.vfiouser.dma;

import io.umdev.linux.Errno;
import io.umdev.linux.FileStat;
import io.umdev.linux.LinuxException;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.OwnedFd;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client memory one device may reach, by IOVA: one table per device, so an instance reaches only
 * what its own client mapped. This is the one place where an (address, length) from a client or a
 * guest becomes memory.
 *
 * <p>Lookups take no lock: the regions are an immutable sorted array replaced on each map or unmap.
 * Code that touches mapped memory does so inside a reader section ({@link #enter()} /
 * {@link #exit(int)}, two atomic operations, typically once per batch of descriptors); an unmap first
 * unpublishes the range, then waits until every section that could have seen it has ended, then
 * unmaps. That is how "unmap waits for the users of the range" costs the data path no lock and no
 * allocation. Reader sections must be short: never wait on a client message inside one.
 */
public final class DmaTable implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DmaTable.class);

    /** The only DMA page size offered: IOVAs, sizes and file offsets are multiples of it. */
    public static final long PAGE_SIZE = 4096;

    private static final DmaRegion[] EMPTY = {};
    /** Counters for the two reader epochs, a cache line (or two) apart so they do not share one. */
    private static final int COUNTER_STRIDE = 16;
    private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(20);
    private static final long PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(50);
    private static final long WARN_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final int maxMappings;
    private final ReentrantLock updateLock = new ReentrantLock();
    private final AtomicLongArray readers = new AtomicLongArray(2 * COUNTER_STRIDE);
    private volatile DmaRegion[] regions = EMPTY;
    /** Bumped on every change of {@link #regions}, before readers of the old ranges are awaited. */
    private volatile long generation;
    private volatile int epoch;
    private volatile DmaMessenger messenger;

    public DmaTable(int maxMappings) {
        if (maxMappings <= 0) {
            throw new IllegalArgumentException("maxMappings must be positive: " + maxMappings);
        }
        this.maxMappings = maxMappings;
    }

    public int maxMappings() {
        return maxMappings;
    }

    /** Where message-backed ranges are read and written; null when no client is connected. */
    public void setMessenger(DmaMessenger messenger) {
        this.messenger = messenger;
    }

    /**
     * Adds [iova, iova+size). With an fd, the range [fileOffset, fileOffset+size) of that file is mapped
     * now (read-only unless writable); without one the range is reached by messages. The table takes
     * ownership of {@code fd} whether or not the map succeeds.
     *
     * @throws DmaException EINVAL for a malformed range or an fd that cannot back it, EEXIST if it
     *     overlaps a mapped range, ENOSPC if the table is full, or the errno of a failed mmap
     */
    public void map(long iova, long size, boolean readable, boolean writable, OwnedFd fd, long fileOffset)
            throws DmaException {
        try {
            DmaRegion region = prepare(iova, size, readable, writable, fd, fileOffset);
            fd = null;
            updateLock.lock();
            try {
                insert(region);
            } catch (DmaException e) {
                region.unmap();
                throw e;
            } finally {
                updateLock.unlock();
            }
            LOG.debug("mapped {}", region);
        } finally {
            if (fd != null) {
                fd.close();
            }
        }
    }

    private DmaRegion prepare(long iova, long size, boolean readable, boolean writable, OwnedFd fd, long fileOffset)
            throws DmaException {
        if (size == 0 || !aligned(iova) || !aligned(size)) {
            throw new DmaException(Errno.EINVAL, String.format(
                    "DMA range [0x%x, +0x%x) is empty or not aligned to %d bytes", iova, size, PAGE_SIZE));
        }
        if (Long.compareUnsigned(iova + size, iova) <= 0 && iova + size != 0) {
            throw new DmaException(Errno.EINVAL, String.format("DMA range [0x%x, +0x%x) wraps around", iova, size));
        }
        if (!readable && !writable) {
            throw new DmaException(Errno.EINVAL, "DMA range is neither readable nor writable");
        }
        if (fd == null) {
            return new DmaRegion(iova, size, readable, writable, null, 0, null);
        }
        if (fileOffset < 0 || !aligned(fileOffset) || Long.MAX_VALUE - fileOffset < size) {
            throw new DmaException(Errno.EINVAL, String.format("file offset 0x%x is invalid for a 0x%x-byte map",
                    fileOffset, size));
        }
        try {
            FileStat stat = FileStat.of(fd);
            // Memory past the end of a file faults on access, so refuse what cannot be bounds-checked.
            if (!stat.isRegularFile()) {
                throw new DmaException(Errno.EINVAL, "the fd passed for DMA is not a regular (memory) file");
            }
            if (stat.size() < fileOffset + size) {
                throw new DmaException(Errno.EINVAL, String.format(
                        "the fd passed for DMA holds 0x%x bytes, fewer than offset 0x%x + size 0x%x",
                        stat.size(), fileOffset, size));
            }
            MappedMemory memory = MappedMemory.map(fd, fileOffset, size, writable);
            return new DmaRegion(iova, size, readable, writable, fd, fileOffset, memory);
        } catch (LinuxException e) {
            throw new DmaException(e.errno(), "mapping DMA memory: " + e.getMessage());
        }
    }

    private static boolean aligned(long value) {
        return (value & (PAGE_SIZE - 1)) == 0;
    }

    private void insert(DmaRegion region) throws DmaException {
        DmaRegion[] current = regions;
        if (current.length >= maxMappings) {
            throw new DmaException(Errno.ENOSPC, "the DMA table is full (" + maxMappings + " ranges)");
        }
        int at = insertionPoint(current, region.iova());
        if ((at > 0 && overlaps(current[at - 1], region)) || (at < current.length && overlaps(region, current[at]))) {
            throw new DmaException(Errno.EEXIST, "DMA range " + region + " overlaps a mapped range");
        }
        DmaRegion[] next = new DmaRegion[current.length + 1];
        System.arraycopy(current, 0, next, 0, at);
        next[at] = region;
        System.arraycopy(current, at, next, at + 1, current.length - at);
        regions = next;
        generation = generation + 1;
    }

    /** True if {@code low} (starting first) reaches into {@code high}. */
    private static boolean overlaps(DmaRegion low, DmaRegion high) {
        long lowLast = low.iova() + low.size() - 1;
        return Long.compareUnsigned(lowLast, high.iova()) >= 0;
    }

    /** Index of the first region whose iova is above {@code iova} (unsigned). */
    private static int insertionPoint(DmaRegion[] array, long iova) {
        int low = 0;
        int high = array.length;
        while (low < high) {
            int mid = (low + high) >>> 1;
            if (Long.compareUnsigned(array[mid].iova(), iova) <= 0) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        return low;
    }

    /**
     * Removes the range mapped exactly as [iova, iova+size), after every reader section that could
     * use it has ended.
     *
     * @throws DmaException ENOENT if no range starts at iova, EINVAL if its size differs
     */
    public void unmap(long iova, long size) throws DmaException {
        DmaRegion removed;
        updateLock.lock();
        try {
            DmaRegion[] current = regions;
            int at = insertionPoint(current, iova) - 1;
            if (at < 0 || current[at].iova() != iova) {
                throw new DmaException(Errno.ENOENT, String.format("no DMA range starts at 0x%x", iova));
            }
            removed = current[at];
            if (removed.size() != size) {
                throw new DmaException(Errno.EINVAL, String.format(
                        "unmap of [0x%x, +0x%x) does not match the mapped range %s", iova, size, removed));
            }
            DmaRegion[] next = new DmaRegion[current.length - 1];
            System.arraycopy(current, 0, next, 0, at);
            System.arraycopy(current, at + 1, next, at, current.length - at - 1);
            regions = next;
            generation = generation + 1;
            awaitReaders();
        } finally {
            updateLock.unlock();
        }
        removed.unmap();
        LOG.debug("unmapped {}", removed);
    }

    /** Removes every range (after the readers that could see them are done). */
    public void unmapAll() {
        DmaRegion[] removed;
        updateLock.lock();
        try {
            removed = regions;
            if (removed.length == 0) {
                return;
            }
            regions = EMPTY;
            generation = generation + 1;
            awaitReaders();
        } finally {
            updateLock.unlock();
        }
        for (DmaRegion region : removed) {
            region.unmap();
        }
        LOG.debug("unmapped all {} DMA ranges", removed.length);
    }

    /**
     * A number that changes whenever a range is mapped or unmapped. Code that keeps a {@link DmaRegion}'s
     * memory across reader sections (a virtqueue's rings) compares it, inside a section, with the value
     * it saw when it looked the memory up, and looks again if it changed: a range unmapped since then
     * changed it before the section began.
     */
    public long generation() {
        return generation;
    }

    /** Starts a reader section; returns the ticket to pass to {@link #exit(int)}. */
    public int enter() {
        while (true) {
            int e = epoch;
            int slot = (e & 1) * COUNTER_STRIDE;
            readers.incrementAndGet(slot);
            // An unmap that flipped the epoch meanwhile may not have seen the increment: use the new epoch.
            if (epoch == e) {
                return slot;
            }
            readers.decrementAndGet(slot);
        }
    }

    public void exit(int ticket) {
        readers.decrementAndGet(ticket);
    }

    /** Flips the epoch and waits for the sections of the old one. Called with the update lock held. */
    private void awaitReaders() {
        int old = (epoch & 1) * COUNTER_STRIDE;
        epoch = epoch + 1;
        long start = System.nanoTime();
        long warnAt = start + WARN_NANOS;
        while (readers.get(old) != 0) {
            long now = System.nanoTime();
            if (now - start < SPIN_NANOS) {
                Thread.onSpinWait();
                continue;
            }
            if (now - warnAt >= 0) {
                LOG.warn("DMA unmap has waited {} ms for users of the mapped memory",
                        TimeUnit.NANOSECONDS.toMillis(now - start));
                warnAt = now + WARN_NANOS;
            }
            LockSupport.parkNanos(PARK_NANOS);
        }
    }

    /**
     * The region holding all of [address, address+length) with the permission asked for. The caller is
     * inside a reader section and uses the result only there.
     *
     * @throws DmaException EFAULT if the range is not wholly inside one mapped range, EPERM if the
     *     client did not allow this direction
     */
    public DmaRegion region(long address, long length, DmaDirection direction) throws DmaException {
        DmaRegion r = find(regions, address);
        if (r == null || !r.contains(address, length)) {
            throw new DmaException(Errno.EFAULT, String.format(
                    "DMA [0x%x, +0x%x) is not inside one mapped range", address, length));
        }
        if (!r.permits(direction)) {
            throw new DmaException(Errno.EPERM, String.format(
                    "DMA %s of [0x%x, +0x%x) is not permitted by its mapping %s", direction, address, length, r));
        }
        return r;
    }

    /**
     * Memory for all of [address, address+length), in place. Only for fd-backed ranges; the caller is
     * inside a reader section and drops the segment when it exits.
     */
    public MemorySegment segment(long address, long length, DmaDirection direction) throws DmaException {
        DmaRegion r = region(address, length, direction);
        MemorySegment memory = r.segment();
        if (memory == null) {
            throw new DmaException(Errno.EFAULT, String.format(
                    "DMA [0x%x, +0x%x) lies in a range reachable only by messages", address, length));
        }
        return memory.asSlice(r.offsetOf(address), length);
    }

    /** Copies client memory at {@code address} into {@code dst}, across adjacent ranges and by message where needed. */
    public void read(long address, MemorySegment dst) throws DmaException {
        transfer(address, dst, DmaDirection.READ);
    }

    /** Copies {@code src} into client memory at {@code address}. */
    public void write(long address, MemorySegment src) throws DmaException {
        transfer(address, src, DmaDirection.WRITE);
    }

    private void transfer(long address, MemorySegment buffer, DmaDirection direction) throws DmaException {
        long done = 0;
        long total = buffer.byteSize();
        while (done < total) {
            long at = address + done;
            if (Long.compareUnsigned(at, address) < 0) {
                throw new DmaException(Errno.EFAULT, "DMA transfer wraps around the address space");
            }
            long chunk;
            long regionIova;
            int ticket = enter();
            try {
                DmaRegion r = find(regions, at);
                if (r == null) {
                    throw new DmaException(Errno.EFAULT, String.format(
                            "DMA [0x%x, +0x%x) reaches unmapped address 0x%x", address, total, at));
                }
                if (!r.permits(direction)) {
                    throw new DmaException(Errno.EPERM, String.format(
                            "DMA %s at 0x%x is not permitted by its mapping %s", direction, at, r));
                }
                long left = r.size() - r.offsetOf(at);
                chunk = Long.compareUnsigned(left, total - done) < 0 ? left : total - done;
                MemorySegment memory = r.segment();
                if (memory != null) {
                    try {
                        if (direction == DmaDirection.READ) {
                            MemorySegment.copy(memory, r.offsetOf(at), buffer, done, chunk);
                        } else {
                            MemorySegment.copy(buffer, done, memory, r.offsetOf(at), chunk);
                        }
                    } catch (InternalError e) {
                        if (!MemoryFault.is(e)) {
                            throw e;
                        }
                        throw new DmaException(Errno.EFAULT, String.format("DMA %s at 0x%x in %s: %s", direction, at,
                                r, MemoryFault.describe(e)));
                    }
                    done += chunk;
                    continue;
                }
                regionIova = r.iova();
            } finally {
                exit(ticket);
            }
            // Message-backed: outside the reader section, since the reply may take a while.
            DmaMessenger m = messenger;
            if (m == null) {
                throw new DmaException(Errno.ENOTCONN, String.format(
                        "DMA at 0x%x (range at 0x%x) needs the client, which is not connected", at, regionIova));
            }
            if (direction == DmaDirection.READ) {
                m.dmaRead(at, buffer.asSlice(done, chunk));
            } else {
                m.dmaWrite(at, buffer.asSlice(done, chunk));
            }
            done += chunk;
        }
    }

    private static DmaRegion find(DmaRegion[] array, long address) {
        int at = insertionPoint(array, address) - 1;
        if (at < 0) {
            return null;
        }
        DmaRegion r = array[at];
        return Long.compareUnsigned(address - r.iova(), r.size()) < 0 ? r : null;
    }

    /** The mapped ranges now, in IOVA order. */
    public List<DmaRegion> regions() {
        return Arrays.asList(regions.clone());
    }

    public int size() {
        return regions.length;
    }

    @Override
    public void close() {
        unmapAll();
    }
}

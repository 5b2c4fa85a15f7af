package io.umdev.simblk;

import io.umdev.linux.Errno;
import io.umdev.linux.IoVector;
import io.umdev.linux.LinuxException;
import io.umdev.linux.RegularFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A disk in a regular file: pread and pwrite straight between the file and the guest's memory, with no
 * buffer between. A write that has returned is in the file's page cache; {@link #flush()} is fdatasync,
 * after which it is on disk. Discard punches a hole; write-zeroes zeroes the range in place (or punches
 * a hole when the guest allows unmapping). Where the file system cannot do either, zeros are written.
 * The file is locked (flock) while the store is open: exclusively when writable, shared when read-only.
 */
public final class FileStore implements BlockStore {
    private static final Logger LOG = LoggerFactory.getLogger(FileStore.class);

    /** Zeros written where the file system cannot punch or zero a range in place; never written to. */
    private static final MemorySegment ZEROS = Arena.global().allocate(64 * 1024);

    private final RegularFile file;
    private final Path path;
    private final long capacity;
    private final boolean readOnly;
    private final AtomicLong syncs = new AtomicLong();
    private volatile boolean canPunch = true;
    private volatile boolean canZeroRange = true;

    private FileStore(RegularFile file, Path path, long capacity, boolean readOnly) {
        this.file = file;
        this.path = path;
        this.capacity = capacity;
        this.readOnly = readOnly;
    }

    /**
     * Opens (or, when writable, creates) the backing file. With a capacity, a smaller writable file is
     * grown to it (the new part reads as zeros) and a larger one is used up to it; without one, the
     * capacity is the file's size rounded down to whole sectors.
     *
     * @param capacity bytes, a multiple of {@code sectorSize}, or 0 to take the file's size
     * @throws LinuxException ENOENT for a missing read-only file, EAGAIN if another disk holds the file
     *     (any disk for a writable one, a writable one for a read-only one), EINVAL for a file too small
     *     to hold one sector or a read-only file smaller than the capacity, or open's errno
     */
    public static FileStore open(Path path, long capacity, boolean readOnly, int sectorSize) throws LinuxException {
        if (capacity < 0 || capacity % sectorSize != 0) {
            throw new IllegalArgumentException("capacity must be a whole number of sectors: " + capacity);
        }
        RegularFile file = RegularFile.open(path, !readOnly, !readOnly);
        try {
            // One writer or several readers per image, across instances and processes.
            file.lock(!readOnly);
            long size = file.size();
            long usable;
            if (capacity == 0) {
                usable = size - size % sectorSize;
                if (usable == 0) {
                    throw new LinuxException("sizing " + path + " (" + size + " bytes, less than one sector;"
                            + " give a capacity)", Errno.EINVAL);
                }
            } else {
                if (size < capacity) {
                    if (readOnly) {
                        throw new LinuxException("sizing read-only " + path + " (" + size + " bytes, capacity "
                                + capacity + ")", Errno.EINVAL);
                    }
                    file.setSize(capacity);
                    LOG.info("backing file {} grown from {} to {} bytes", path, size, capacity);
                }
                usable = capacity;
            }
            return new FileStore(file, path, usable, readOnly);
        } catch (LinuxException | RuntimeException e) {
            file.close();
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

    /** The backing file. */
    public Path path() {
        return path;
    }

    @Override
    public void read(long offset, MemorySegment memory, long memoryOffset, long length) throws LinuxException {
        Objects.checkFromIndexSize(offset, length, capacity);
        if (file.read(offset, memory.asSlice(memoryOffset, length)) != length) {
            // Someone truncated the file under the disk: its data is gone, which is an IO error.
            throw new LinuxException("pread (short: " + path + " was truncated)", Errno.EIO);
        }
    }

    /** Reads the vector's bytes from {@code offset} with one preadv (more only after a short read); consumes it. */
    public void readv(long offset, IoVector vector) throws LinuxException {
        long length = vector.bytes();
        Objects.checkFromIndexSize(offset, length, capacity);
        if (file.readv(offset, vector) != length) {
            throw new LinuxException("preadv (short: " + path + " was truncated)", Errno.EIO);
        }
    }

    /** Writes the vector's bytes at {@code offset} with one pwritev (more only after a short write); consumes it. */
    public void writev(long offset, IoVector vector) throws LinuxException {
        Objects.checkFromIndexSize(offset, vector.bytes(), capacity);
        file.writev(offset, vector);
    }

    @Override
    public void write(long offset, MemorySegment memory, long memoryOffset, long length) throws LinuxException {
        Objects.checkFromIndexSize(offset, length, capacity);
        file.write(offset, memory.asSlice(memoryOffset, length));
    }

    @Override
    public void flush() throws LinuxException {
        file.sync(false);
        syncs.incrementAndGet();
    }

    @Override
    public void discard(long offset, long length) throws LinuxException {
        Objects.checkFromIndexSize(offset, length, capacity);
        punchOrZero(offset, length);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean unmap) throws LinuxException {
        Objects.checkFromIndexSize(offset, length, capacity);
        if (unmap) {
            punchOrZero(offset, length);
            return;
        }
        if (canZeroRange) {
            try {
                file.zeroRange(offset, length);
                return;
            } catch (LinuxException e) {
                if (e.errno() != Errno.EOPNOTSUPP) {
                    throw e;
                }
                canZeroRange = false;
                LOG.info("{}: the file system cannot zero a range in place; writing zeros instead", path);
            }
        }
        writeZeros(offset, length);
    }

    private void punchOrZero(long offset, long length) throws LinuxException {
        if (canPunch) {
            try {
                file.punchHole(offset, length);
                return;
            } catch (LinuxException e) {
                if (e.errno() != Errno.EOPNOTSUPP) {
                    throw e;
                }
                canPunch = false;
                LOG.info("{}: the file system cannot punch holes; writing zeros instead", path);
            }
        }
        writeZeros(offset, length);
    }

    private void writeZeros(long offset, long length) throws LinuxException {
        long done = 0;
        while (done < length) {
            long chunk = Math.min(ZEROS.byteSize(), length - done);
            file.write(offset + done, chunk == ZEROS.byteSize() ? ZEROS : ZEROS.asSlice(0, chunk));
            done += chunk;
        }
    }

    @Override
    public long syncs() {
        return syncs.get();
    }

    @Override
    public String describe() {
        return "file " + path + (readOnly ? " (read-only), " : ", ") + capacity + " bytes";
    }

    @Override
    public void close() {
        file.close();
    }
}

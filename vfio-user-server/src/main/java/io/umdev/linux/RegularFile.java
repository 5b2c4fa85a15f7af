package io.umdev.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * A regular file (or memfd) read and written at explicit offsets, straight between the file and native
 * memory: pread/pwrite with no intermediate buffer, so a disk parent moves a guest's data without a
 * copy or an allocation. Also the calls that decide durability and space: fdatasync/fsync, punching
 * holes, zeroing ranges and setting the size. Every call is safe against a concurrent {@link #close()}:
 * it fails with EBADF instead of reaching a descriptor number the kernel has reused.
 */
public final class RegularFile implements AutoCloseable {
    /** fallocate: do not change the file size. */
    private static final int FALLOC_FL_KEEP_SIZE = 0x01;
    /** fallocate: deallocate the range; reads of it return zeros afterwards. */
    private static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    /** fallocate: make the range read as zeros, keeping it allocated. */
    private static final int FALLOC_FL_ZERO_RANGE = 0x10;
    /** Permissions of a file this class creates: the owner's only (disk images hold guest data). */
    private static final int CREATE_MODE = 0600;

    private final OwnedFd fd;

    private RegularFile(OwnedFd fd) {
        this.fd = fd;
    }

    /**
     * Opens {@code path}, close-on-exec, read-write if {@code writable}, creating it (empty, mode 0600)
     * when {@code create} is true and it does not exist.
     *
     * @throws LinuxException with open's errno, or EINVAL if the path is not a regular file
     */
    public static RegularFile open(Path path, boolean writable, boolean create) throws LinuxException {
        int flags = (writable ? LibC.O_RDWR : LibC.O_RDONLY) | LibC.O_CLOEXEC | (create ? LibC.O_CREAT : 0);
        int number;
        try (Arena arena = Arena.ofConfined()) {
            number = LibC.open(arena.allocateFrom(path.toString()), flags, CREATE_MODE);
        }
        OwnedFd owned = OwnedFd.adopt(number);
        try {
            if (!FileStat.of(owned).isRegularFile()) {
                throw new LinuxException("open (not a regular file: " + path + ")", Errno.EINVAL);
            }
        } catch (LinuxException e) {
            owned.close();
            throw e;
        }
        return new RegularFile(owned);
    }

    /**
     * Takes an advisory whole-file lock without waiting: exclusive for one writer, or shared among
     * readers. The lock belongs to this open file and goes with its close; another open of the same file
     * (in this process or another) that wants a conflicting lock is refused. That is how two disks are
     * kept from sharing one image.
     *
     * @throws LinuxException EAGAIN if a conflicting lock is held
     */
    public void lock(boolean exclusive) throws LinuxException {
        int number = acquire("flock");
        try {
            LibC.flock(number, (exclusive ? LibC.LOCK_EX : LibC.LOCK_SH) | LibC.LOCK_NB);
        } finally {
            fd.release();
        }
    }

    /** Wraps a regular file or memfd this process owns; this object owns {@code fd} from now on. */
    public static RegularFile adopt(OwnedFd fd) {
        return new RegularFile(fd);
    }

    /** The descriptor, for mapping the file; still owned by this object. */
    public OwnedFd fd() {
        return fd;
    }

    /** The file's size now. */
    public long size() throws LinuxException {
        return FileStat.of(fd).size();
    }

    /** Sets the size: growing adds a hole that reads as zeros. */
    public void setSize(long size) throws LinuxException {
        int number = acquire("ftruncate");
        try {
            LibC.ftruncate(number, size);
        } finally {
            fd.release();
        }
    }

    /**
     * Reads into all of {@code dst} (native memory) from {@code offset}, looping over short reads.
     *
     * @return the bytes read: less than {@code dst.byteSize()} only at the end of the file
     */
    public long read(long offset, MemorySegment dst) throws LinuxException {
        int number = acquire("pread");
        try {
            long total = dst.byteSize();
            long done = LibC.pread(number, dst, total, offset);
            // A short read is rare (end of file, a signal): only then is a slice made for the rest.
            while (done < total) {
                long n = LibC.pread(number, dst.asSlice(done), total - done, offset + done);
                if (n == 0) {
                    break;
                }
                done += n;
            }
            return done;
        } finally {
            fd.release();
        }
    }

    /** Writes all of {@code src} (native memory) at {@code offset}, looping over short writes. */
    public void write(long offset, MemorySegment src) throws LinuxException {
        int number = acquire("pwrite");
        try {
            long total = src.byteSize();
            long done = total == 0 ? 0 : LibC.pwrite(number, src, total, offset);
            while (done < total) {
                long n = LibC.pwrite(number, src.asSlice(done), total - done, offset + done);
                if (n == 0) {
                    // A regular file never accepts zero bytes of a non-empty write unless it is out of space.
                    throw new LinuxException("pwrite (no progress)", Errno.ENOSPC);
                }
                done += n;
            }
        } finally {
            fd.release();
        }
    }

    /**
     * Reads from {@code offset} into every buffer of {@code vector} with preadv, looping over short reads.
     * The vector is consumed.
     *
     * @return the bytes read: less than the vector held only at the end of the file
     */
    public long readv(long offset, IoVector vector) throws LinuxException {
        int number = acquire("preadv");
        try {
            long done = 0;
            while (vector.count() > 0) {
                long n = LibC.preadv(number, vector.remaining(), vector.count(), offset + done);
                if (n == 0) {
                    break;
                }
                vector.consume(n);
                done += n;
            }
            return done;
        } finally {
            fd.release();
        }
    }

    /** Writes every buffer of {@code vector} at {@code offset} with pwritev, looping over short writes; consumes it. */
    public void writev(long offset, IoVector vector) throws LinuxException {
        int number = acquire("pwritev");
        try {
            long done = 0;
            while (vector.count() > 0) {
                long n = LibC.pwritev(number, vector.remaining(), vector.count(), offset + done);
                if (n == 0) {
                    throw new LinuxException("pwritev (no progress)", Errno.ENOSPC);
                }
                vector.consume(n);
                done += n;
            }
        } finally {
            fd.release();
        }
    }

    /**
     * Makes the data written so far durable: fdatasync, or fsync when {@code metadata} (timestamps and
     * the like) must be durable too.
     */
    public void sync(boolean metadata) throws LinuxException {
        int number = acquire(metadata ? "fsync" : "fdatasync");
        try {
            LibC.sync(number, metadata);
        } finally {
            fd.release();
        }
    }

    /**
     * Deallocates [offset, offset+length) keeping the size; the range reads as zeros afterwards.
     *
     * @throws LinuxException EOPNOTSUPP where the file system cannot punch holes
     */
    public void punchHole(long offset, long length) throws LinuxException {
        fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
    }

    /**
     * Makes [offset, offset+length) read as zeros, keeping it allocated and the size unchanged.
     *
     * @throws LinuxException EOPNOTSUPP where the file system cannot zero a range in place (tmpfs)
     */
    public void zeroRange(long offset, long length) throws LinuxException {
        fallocate(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length);
    }

    private void fallocate(int mode, long offset, long length) throws LinuxException {
        int number = acquire("fallocate");
        try {
            LibC.fallocate(number, mode, offset, length);
        } finally {
            fd.release();
        }
    }

    private int acquire(String call) throws LinuxException {
        if (!fd.acquire()) {
            throw new LinuxException(call, Errno.EBADF);
        }
        return fd.fd();
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "regular file (" + fd + ")";
    }
}

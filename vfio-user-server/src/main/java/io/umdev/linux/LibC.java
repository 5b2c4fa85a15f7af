package io.umdev.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The C library functions umdev calls, bound once. Each wrapper returns the call's result on success
 * and throws {@link LinuxException} with the captured errno on failure. Package-private: the owning
 * types of this package are the only callers.
 */
@SuppressWarnings("restricted")
final class LibC {
    static final int MFD_CLOEXEC = 0x1;
    static final int MFD_ALLOW_SEALING = 0x2;
    static final int EFD_SEMAPHORE = 0x1;
    static final int EFD_NONBLOCK = 0x800;
    static final int EFD_CLOEXEC = 0x80000;
    static final int PROT_READ = 0x1;
    static final int PROT_WRITE = 0x2;
    static final int MAP_SHARED = 0x1;
    static final int F_GETFD = 1;
    static final int F_DUPFD_CLOEXEC = 1030;
    static final int SC_PAGESIZE = 30;
    static final int O_RDONLY = 0;
    static final int O_RDWR = 02;
    static final int O_CREAT = 0100;
    static final int O_CLOEXEC = 02000000;
    static final int LOCK_SH = 1;
    static final int LOCK_EX = 2;
    static final int LOCK_NB = 4;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LOOKUP = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    /** One errno capture buffer per thread, so that no call allocates. */
    private static final ThreadLocal<MemorySegment> STATE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CALL_STATE));

    private static final MethodHandle MEMFD_CREATE = bind("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle FTRUNCATE = bind("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MMAP = bind("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MUNMAP = bind("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle EVENTFD = bind("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = bind("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = bind("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FCNTL = bind("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle FSTAT = bind("fstat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle POLL = bind("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SCHED_SETAFFINITY = bind("sched_setaffinity",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle SCHED_GETCPU = bind("sched_getcpu", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETUID = LINKER.downcallHandle(
            LOOKUP.findOrThrow("getuid"), FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle SYSCONF = bind("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
    private static final MethodHandle OPEN = bind("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle PREAD = bind("pread",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PWRITE = bind("pwrite",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle PREADV = bind("preadv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle PWRITEV = bind("pwritev",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG));
    private static final MethodHandle FDATASYNC = bind("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FLOCK = bind("flock", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle FSYNC = bind("fsync", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle FALLOCATE = bind("fallocate",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));

    private LibC() {
    }

    private static MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = CAPTURE_ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(LOOKUP.findOrThrow(name), descriptor, options);
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    private static LinuxException failure(String call, MemorySegment state) {
        return new LinuxException(call, errno(state));
    }

    /** Wraps the impossible: a downcall handle invoked with the types it was bound with cannot throw. */
    private static AssertionError unexpected(Throwable t) {
        return new AssertionError("downcall failed unexpectedly", t);
    }

    static int memfdCreate(MemorySegment name, int flags) throws LinuxException {
        MemorySegment state = STATE.get();
        int fd;
        try {
            fd = (int) MEMFD_CREATE.invokeExact(state, name, flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (fd < 0) {
            throw failure("memfd_create", state);
        }
        return fd;
    }

    static void ftruncate(int fd, long length) throws LinuxException {
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) FTRUNCATE.invokeExact(state, fd, length);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (rc != 0) {
            throw failure("ftruncate", state);
        }
    }

    static long mmap(long length, int prot, int flags, int fd, long offset) throws LinuxException {
        MemorySegment state = STATE.get();
        MemorySegment address;
        try {
            address = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (address.address() == -1L) {
            throw failure("mmap", state);
        }
        return address.address();
    }

    static void munmap(long address, long length) throws LinuxException {
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) MUNMAP.invokeExact(state, MemorySegment.ofAddress(address), length);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (rc != 0) {
            throw failure("munmap", state);
        }
    }

    static int eventfd(int initial, int flags) throws LinuxException {
        MemorySegment state = STATE.get();
        int fd;
        try {
            fd = (int) EVENTFD.invokeExact(state, initial, flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (fd < 0) {
            throw failure("eventfd", state);
        }
        return fd;
    }

    /** read(2), retried on EINTR. Returns the byte count, or -1 for EAGAIN on a non-blocking fd. */
    static long read(int fd, MemorySegment buffer, long count) throws LinuxException {
        MemorySegment state = STATE.get();
        while (true) {
            long n;
            try {
                n = (long) READ.invokeExact(state, fd, buffer, count);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (n >= 0) {
                return n;
            }
            int errno = errno(state);
            if (errno == Errno.EAGAIN) {
                return -1;
            }
            if (errno != Errno.EINTR) {
                throw new LinuxException("read", errno);
            }
        }
    }

    /** write(2), retried on EINTR. Returns the byte count, or -1 for EAGAIN on a non-blocking fd. */
    static long write(int fd, MemorySegment buffer, long count) throws LinuxException {
        MemorySegment state = STATE.get();
        while (true) {
            long n;
            try {
                n = (long) WRITE.invokeExact(state, fd, buffer, count);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (n >= 0) {
                return n;
            }
            int errno = errno(state);
            if (errno == Errno.EAGAIN) {
                return -1;
            }
            if (errno != Errno.EINTR) {
                throw new LinuxException("write", errno);
            }
        }
    }

    /** close(2); never retried (on Linux the descriptor is gone even when close reports EINTR). */
    static void close(int fd) throws LinuxException {
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) CLOSE.invokeExact(state, fd);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (rc != 0 && errno(state) != Errno.EINTR) {
            throw failure("close", state);
        }
    }

    static int fcntl(int fd, int command, int argument) throws LinuxException {
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) FCNTL.invokeExact(state, fd, command, argument);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (rc < 0) {
            throw failure("fcntl", state);
        }
        return rc;
    }

    static void fstat(int fd, MemorySegment stat) throws LinuxException {
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) FSTAT.invokeExact(state, fd, stat);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (rc != 0) {
            throw failure("fstat", state);
        }
    }

    /** poll(2), retried on EINTR with the full timeout (callers loop with their own deadline). */
    static int poll(MemorySegment fds, long count, int timeoutMillis) throws LinuxException {
        MemorySegment state = STATE.get();
        while (true) {
            int rc;
            try {
                rc = (int) POLL.invokeExact(state, fds, count, timeoutMillis);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (rc >= 0) {
                return rc;
            }
            if (errno(state) != Errno.EINTR) {
                throw failure("poll", state);
            }
        }
    }

    static void schedSetaffinity(long maskBytes, MemorySegment mask) throws LinuxException {
        MemorySegment state = STATE.get();
        int rc;
        try {
            rc = (int) SCHED_SETAFFINITY.invokeExact(state, 0, maskBytes, mask);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (rc != 0) {
            throw failure("sched_setaffinity", state);
        }
    }

    static int schedGetcpu() throws LinuxException {
        MemorySegment state = STATE.get();
        int cpu;
        try {
            cpu = (int) SCHED_GETCPU.invokeExact(state);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (cpu < 0) {
            throw failure("sched_getcpu", state);
        }
        return cpu;
    }

    static int getuid() {
        try {
            return (int) GETUID.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    static long sysconf(int name) throws LinuxException {
        MemorySegment state = STATE.get();
        long value;
        try {
            value = (long) SYSCONF.invokeExact(state, name);
        } catch (Throwable t) {
            throw unexpected(t);
        }
        if (value < 0) {
            throw failure("sysconf", state);
        }
        return value;
    }

    /** open(2) with a mode for O_CREAT, retried on EINTR. */
    static int open(MemorySegment path, int flags, int mode) throws LinuxException {
        MemorySegment state = STATE.get();
        while (true) {
            int fd;
            try {
                fd = (int) OPEN.invokeExact(state, path, flags, mode);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (fd >= 0) {
                return fd;
            }
            if (errno(state) != Errno.EINTR) {
                throw failure("open", state);
            }
        }
    }

    /** pread(2), retried on EINTR. Returns the byte count (0 at end of file). */
    static long pread(int fd, MemorySegment buffer, long count, long offset) throws LinuxException {
        MemorySegment state = STATE.get();
        while (true) {
            long n;
            try {
                n = (long) PREAD.invokeExact(state, fd, buffer, count, offset);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (n >= 0) {
                return n;
            }
            if (errno(state) != Errno.EINTR) {
                throw failure("pread", state);
            }
        }
    }

    /** pwrite(2), retried on EINTR. Returns the byte count. */
    static long pwrite(int fd, MemorySegment buffer, long count, long offset) throws LinuxException {
        MemorySegment state = STATE.get();
        while (true) {
            long n;
            try {
                n = (long) PWRITE.invokeExact(state, fd, buffer, count, offset);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (n >= 0) {
                return n;
            }
            if (errno(state) != Errno.EINTR) {
                throw failure("pwrite", state);
            }
        }
    }

    /** preadv(2) of {@code count} struct iovec at {@code iov}, retried on EINTR. Returns the byte count. */
    static long preadv(int fd, MemorySegment iov, int count, long offset) throws LinuxException {
        MemorySegment state = STATE.get();
        while (true) {
            long n;
            try {
                n = (long) PREADV.invokeExact(state, fd, iov, count, offset);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (n >= 0) {
                return n;
            }
            if (errno(state) != Errno.EINTR) {
                throw failure("preadv", state);
            }
        }
    }

    /** pwritev(2) of {@code count} struct iovec at {@code iov}, retried on EINTR. Returns the byte count. */
    static long pwritev(int fd, MemorySegment iov, int count, long offset) throws LinuxException {
        MemorySegment state = STATE.get();
        while (true) {
            long n;
            try {
                n = (long) PWRITEV.invokeExact(state, fd, iov, count, offset);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (n >= 0) {
                return n;
            }
            if (errno(state) != Errno.EINTR) {
                throw failure("pwritev", state);
            }
        }
    }

    /** fdatasync(2), or fsync(2) when {@code metadata} is asked for too; retried on EINTR. */
    static void sync(int fd, boolean metadata) throws LinuxException {
        MemorySegment state = STATE.get();
        while (true) {
            int rc;
            try {
                rc = metadata ? (int) FSYNC.invokeExact(state, fd) : (int) FDATASYNC.invokeExact(state, fd);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (rc == 0) {
                return;
            }
            if (errno(state) != Errno.EINTR) {
                throw failure(metadata ? "fsync" : "fdatasync", state);
            }
        }
    }

    /** fallocate(2), retried on EINTR. */
    static void fallocate(int fd, int mode, long offset, long length) throws LinuxException {
        MemorySegment state = STATE.get();
        while (true) {
            int rc;
            try {
                rc = (int) FALLOCATE.invokeExact(state, fd, mode, offset, length);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (rc == 0) {
                return;
            }
            if (errno(state) != Errno.EINTR) {
                throw failure("fallocate", state);
            }
        }
    }

    /** flock(2), retried on EINTR; with LOCK_NB a held lock fails with EAGAIN (EWOULDBLOCK). */
    static void flock(int fd, int operation) throws LinuxException {
        MemorySegment state = STATE.get();
        while (true) {
            int rc;
            try {
                rc = (int) FLOCK.invokeExact(state, fd, operation);
            } catch (Throwable t) {
                throw unexpected(t);
            }
            if (rc == 0) {
                return;
            }
            if (errno(state) != Errno.EINTR) {
                throw failure("flock", state);
            }
        }
    }
}

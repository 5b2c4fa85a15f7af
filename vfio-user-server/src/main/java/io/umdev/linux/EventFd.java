package io.umdev.linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An eventfd: the kernel's 64-bit counter used for interrupts (the server signals, the client's KVM
 * injects) and doorbells (the guest's write becomes a signal the device reads). Signalling is safe
 * against a concurrent close.
 */
public final class EventFd implements AutoCloseable {
    private static final long COUNTER_BYTES = JAVA_LONG.byteSize();
    private static final MemorySegment ONE = Arena.global().allocateFrom(JAVA_LONG, 1L);
    private static final ThreadLocal<MemorySegment> READ_BUFFER =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(JAVA_LONG));

    /** What /proc/self/fd/N links to for an eventfd. */
    private static final String EVENTFD_LINK = "anon_inode:[eventfd]";

    private final OwnedFd fd;

    private EventFd(OwnedFd fd) {
        this.fd = fd;
    }

    /** A new blocking eventfd with counter 0. */
    public static EventFd create() throws LinuxException {
        return new EventFd(OwnedFd.adopt(LibC.eventfd(0, LibC.EFD_CLOEXEC)));
    }

    /** A new non-blocking eventfd with counter 0: {@link #read()} answers 0 instead of waiting. */
    public static EventFd createNonBlocking() throws LinuxException {
        return new EventFd(OwnedFd.adopt(LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK)));
    }

    /** Wraps an eventfd this process created; this object now owns it. */
    public static EventFd adopt(OwnedFd fd) {
        return new EventFd(fd);
    }

    /**
     * Wraps a descriptor received from a peer after checking that it really is an eventfd: anything else
     * (a pipe that fills up, a file) could stall or corrupt whoever signals it. On success this object
     * owns {@code fd}; on failure the caller still does.
     */
    public static EventFd adoptChecked(OwnedFd fd) throws LinuxException {
        String target;
        try {
            target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd.fd())).toString();
        } catch (IOException e) {
            throw new LinuxException("readlink(/proc/self/fd)", Errno.EBADF);
        }
        if (!EVENTFD_LINK.equals(target)) {
            throw new LinuxException("eventfd check (" + target + ")", Errno.EINVAL);
        }
        return new EventFd(fd);
    }

    public OwnedFd fd() {
        return fd;
    }

    /**
     * Adds one to the counter, waking whoever waits on it. Returns false if this eventfd is closed or
     * the write failed (the peer may have passed something that is not an eventfd).
     */
    public boolean signal() {
        if (!fd.acquire()) {
            return false;
        }
        try {
            return LibC.write(fd.fd(), ONE, COUNTER_BYTES) == COUNTER_BYTES;
        } catch (LinuxException e) {
            return false;
        } finally {
            fd.release();
        }
    }

    /**
     * Reads and resets the counter. Blocks on a blocking eventfd while the counter is zero; answers 0 on
     * a non-blocking one.
     */
    public long read() throws LinuxException {
        if (!fd.acquire()) {
            throw new LinuxException("read(eventfd)", Errno.EBADF);
        }
        try {
            MemorySegment buffer = READ_BUFFER.get();
            long n = LibC.read(fd.fd(), buffer, COUNTER_BYTES);
            return n == COUNTER_BYTES ? buffer.get(JAVA_LONG, 0) : 0;
        } finally {
            fd.release();
        }
    }

    @Override
    public void close() {
        fd.close();
    }
}

package io.umdev.linux;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A file descriptor with exactly one owner. Closing is idempotent, and safe against concurrent users:
 * a thread that must use the raw number while another may close it brackets the use with
 * {@link #acquire()} and {@link #release()}, and the descriptor is closed only when the last such use
 * ends. That is what keeps a data-path thread from writing to a number the kernel has already handed
 * to an unrelated file.
 */
public final class OwnedFd implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(OwnedFd.class);
    private static final Cleaner CLEANER = Cleaner.create();

    private final Handle handle;
    private final Cleaner.Cleanable cleanable;

    private OwnedFd(int fd) {
        this.handle = new Handle(fd);
        this.cleanable = CLEANER.register(this, handle);
    }

    /** Takes ownership of a raw descriptor number; the caller must not close it any more. */
    public static OwnedFd adopt(int fd) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + fd);
        }
        return new OwnedFd(fd);
    }

    /** The raw number. Valid while this is open; see {@link #acquire()} for use racing with close. */
    public int fd() {
        return handle.fd;
    }

    public boolean isOpen() {
        return (handle.state.get() & Handle.CLOSED) == 0;
    }

    /** Marks a use of the raw number; false if already closed. Every true must be paired with release. */
    public boolean acquire() {
        return handle.acquire();
    }

    public void release() {
        handle.release();
    }

    /** A new owned descriptor for the same open file (close-on-exec). */
    public OwnedFd duplicate() throws LinuxException {
        if (!acquire()) {
            throw new LinuxException("fcntl(F_DUPFD_CLOEXEC)", Errno.EBADF);
        }
        try {
            return adopt(LibC.fcntl(handle.fd, LibC.F_DUPFD_CLOEXEC, 0));
        } finally {
            release();
        }
    }

    /**
     * A duplicate we own, after which this object lets go of its number without closing it. For numbers
     * another library will close itself (junixsocket's received descriptors).
     */
    public OwnedFd duplicateAndForget() throws LinuxException {
        try {
            return duplicate();
        } finally {
            handle.forget();
            cleanable.clean();
        }
    }

    @Override
    public void close() {
        handle.markClosed();
        cleanable.clean();
    }

    @Override
    public String toString() {
        return "fd " + handle.fd + (isOpen() ? "" : " (closed)");
    }

    /** The state shared with the cleaner: the number, a use count and a closed flag. */
    private static final class Handle implements Runnable {
        static final long CLOSED = 1L << 62;

        final int fd;
        final AtomicLong state = new AtomicLong();
        volatile boolean explicitlyClosed;

        Handle(int fd) {
            this.fd = fd;
        }

        boolean acquire() {
            while (true) {
                long s = state.get();
                if ((s & CLOSED) != 0) {
                    return false;
                }
                if (state.compareAndSet(s, s + 1)) {
                    return true;
                }
            }
        }

        void release() {
            if (state.decrementAndGet() == CLOSED) {
                destroy();
            }
        }

        void markClosed() {
            explicitlyClosed = true;
        }

        /** Marks the number closed without closing it: someone else owns it after all. */
        void forget() {
            explicitlyClosed = true;
            state.getAndUpdate(s -> s | CLOSED);
        }

        /** Runs once, from close() or from the cleaner if the owner was dropped without closing. */
        @Override
        public void run() {
            if (!explicitlyClosed) {
                LOG.warn("fd {} was never closed by its owner; closing it now", fd);
            }
            while (true) {
                long s = state.get();
                if ((s & CLOSED) != 0) {
                    return;
                }
                if (state.compareAndSet(s, s | CLOSED)) {
                    if (s == 0) {
                        destroy();
                    }
                    return;
                }
            }
        }

        private void destroy() {
            try {
                LibC.close(fd);
            } catch (LinuxException e) {
                LOG.warn("closing fd {}: {}", fd, e.getMessage());
            }
        }
    }
}

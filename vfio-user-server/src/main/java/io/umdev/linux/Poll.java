package io.umdev.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** poll(2) on one descriptor: how sockets wait for readability with a deadline. */
public final class Poll {
    public static final int POLLIN = 0x1;
    public static final int POLLERR = 0x8;
    public static final int POLLHUP = 0x10;
    public static final int POLLNVAL = 0x20;

    private static final StructLayout POLLFD = MemoryLayout.structLayout(
            JAVA_INT.withName("fd"), JAVA_SHORT.withName("events"), JAVA_SHORT.withName("revents"));
    private static final long EVENTS_OFFSET = JAVA_INT.byteSize();
    private static final long REVENTS_OFFSET = EVENTS_OFFSET + JAVA_SHORT.byteSize();
    private static final ThreadLocal<MemorySegment> BUFFER =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(POLLFD));

    private Poll() {
    }

    /**
     * Waits up to {@code timeoutMillis} (negative: forever) for {@code events} on {@code fd}; returns
     * the events that occurred, 0 on timeout. The caller must hold a use of the descriptor.
     */
    public static int poll(int fd, int events, int timeoutMillis) throws LinuxException {
        MemorySegment pollfd = BUFFER.get();
        pollfd.set(JAVA_INT, 0, fd);
        pollfd.set(JAVA_SHORT, EVENTS_OFFSET, (short) events);
        pollfd.set(JAVA_SHORT, REVENTS_OFFSET, (short) 0);
        int ready = LibC.poll(pollfd, 1, timeoutMillis);
        return ready == 0 ? 0 : Short.toUnsignedInt(pollfd.get(JAVA_SHORT, REVENTS_OFFSET));
    }
}

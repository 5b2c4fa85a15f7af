package io.umdev.vfiouser.dma;

/**
 * A fault on client memory that is mapped but no longer backed: a client that shrinks the file behind a
 * DMA map (ftruncate of its memfd) turns every access past the new end into SIGBUS. HotSpot reports that
 * as an {@link InternalError} in the accessing thread ("a fault occurred in an unsafe memory access
 * operation"), interpreted or compiled, rather than crashing; data paths that touch client memory catch
 * it with {@link #is} and treat it as that client's fault: its device needs a reset, nothing else is hurt.
 * QEMU seals its memfds against shrinking by default, so only a broken or hostile client gets here.
 */
public final class MemoryFault {
    private MemoryFault() {
    }

    /** Whether {@code t} is HotSpot's report of a fault on mapped memory. */
    public static boolean is(Throwable t) {
        return t instanceof InternalError;
    }

    /** What to log and report for such a fault. */
    public static String describe(Throwable t) {
        return "client memory faulted (the file behind a DMA mapping was shrunk?): " + t.getMessage();
    }
}

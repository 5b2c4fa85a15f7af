package io.umdev.vfiouser.dma;

/**
 * A DMA map, unmap or access was refused: the range is not mapped, crosses a mapping's end, lacks the
 * permission asked for, or the client could not be reached. Carries the errno to report.
 */
public final class DmaException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int errno;

    public DmaException(int errno, String message) {
        super(message, null, false, false);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}

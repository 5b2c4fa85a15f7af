package io.umdev.virtio.driver;

import io.umdev.linux.Errno;
import java.io.IOException;

/**
 * The in-process driver could not do what was asked: the device refused the features, set NEEDS_RESET,
 * did not answer in time, or memory could not be set up. Carries an errno (io.umdev.linux.Errno).
 */
public class VirtioDriverException extends IOException {
    private static final long serialVersionUID = 1L;

    private final int errno;

    public VirtioDriverException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public VirtioDriverException(int errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }

    /** The errno's symbolic name, such as {@code EIO}. */
    public String errnoName() {
        return Errno.name(errno);
    }
}

package io.umdev.linux;

import java.io.IOException;

/** A system call failed; carries the call's name and its errno. */
public final class LinuxException extends IOException {
    private static final long serialVersionUID = 1L;

    private final int errno;

    public LinuxException(String call, int errno) {
        super(call + " failed: " + Errno.name(errno));
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}

package io.umdev.vfiouser.client;

import io.umdev.linux.Errno;
import java.io.IOException;

/** The server answered a command with an error (or did not answer in time). */
public final class VfioUserException extends IOException {
    private static final long serialVersionUID = 1L;

    private final int command;
    private final int errno;

    public VfioUserException(int command, int errno, String detail) {
        super("vfio-user command " + command + " failed: " + Errno.name(errno) + (detail.isEmpty() ? "" : " (" + detail + ")"));
        this.command = command;
        this.errno = errno;
    }

    public int command() {
        return command;
    }

    public int errno() {
        return errno;
    }
}

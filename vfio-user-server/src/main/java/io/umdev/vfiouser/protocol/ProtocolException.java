package io.umdev.vfiouser.protocol;

import io.umdev.linux.Errno;

/**
 * A message broke the protocol. Carries the errno its sender is answered with, and says what was
 * wrong. Thrown on the control path only, often under fuzzing, so it records no stack trace.
 */
public final class ProtocolException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int errno;

    public ProtocolException(int errno, String message) {
        super(message, null, false, false);
        this.errno = errno;
    }

    public static ProtocolException invalid(String format, Object... args) {
        return new ProtocolException(Errno.EINVAL, String.format(format, args));
    }

    public int errno() {
        return errno;
    }
}

package io.umdev.daemon.control;

import io.umdev.linux.Errno;
import java.util.Locale;

/**
 * The kinds of error a control request can get, as they appear in a reply's {@code error.code}, and the
 * exit status {@code umdevctl} turns each into.
 */
public enum ErrorCode {
    /** The request itself is malformed: not JSON, unknown op, missing, extra or mistyped field. */
    BAD_REQUEST(3),
    /** A value is invalid or out of range, or the request makes no sense (EINVAL). */
    INVALID(3),
    /** No such parent, type, driver, instance or definition (ENOENT). */
    NOT_FOUND(2),
    /** The UUID is already running or defined (EEXIST). */
    EXISTS(3),
    /** The type has no available instances (ENOSPC). */
    NO_SPACE(3),
    /** A parent or driver refused (EOPNOTSUPP, ENODEV, EPERM...). */
    REFUSED(3),
    /** The instance is in a state that does not allow it, e.g. already bound (EBUSY). */
    BUSY(3),
    /** The peer is not allowed to use the control socket. */
    DENIED(3),
    /** Something failed inside the daemon, a parent or a driver (EIO, file system errors). */
    INTERNAL(5);

    private final int exitStatus;

    ErrorCode(int exitStatus) {
        this.exitStatus = exitStatus;
    }

    /** As written in replies: {@code bad-request}, {@code not-found}... */
    public String label() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The exit status of {@code umdevctl} for this error. */
    public int exitStatus() {
        return exitStatus;
    }

    /** The label's code, or null. */
    public static ErrorCode fromLabel(String label) {
        for (ErrorCode code : values()) {
            if (code.label().equals(label)) {
                return code;
            }
        }
        return null;
    }

    /** The code for an errno from the bus. */
    public static ErrorCode ofErrno(int errno) {
        return switch (errno) {
            case Errno.EINVAL, Errno.ERANGE -> INVALID;
            case Errno.ENOENT -> NOT_FOUND;
            case Errno.EEXIST -> EXISTS;
            case Errno.ENOSPC -> NO_SPACE;
            case Errno.EBUSY, Errno.EAGAIN -> BUSY;
            case Errno.EOPNOTSUPP, Errno.ENODEV, Errno.EPERM, Errno.EACCES -> REFUSED;
            default -> INTERNAL;
        };
    }
}

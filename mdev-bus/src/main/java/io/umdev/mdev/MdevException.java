package io.umdev.mdev;

import io.umdev.linux.Errno;
import java.util.Optional;

/**
 * A management operation of the bus was refused or failed. Carries an errno (as the kernel's mdev and
 * vdpa interfaces would answer) and, when one input is to blame, the name of that field: {@code uuid},
 * {@code parent}, {@code type}, {@code driver}, or {@code attrs.<name>} for an attribute. The message
 * names the field too and says what was wrong with it.
 *
 * <p>This is the only exception the bus lets out: whatever a parent or a driver throws is caught at the
 * bus and reported as one of these.
 */
public final class MdevException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int errno;
    private final String field;

    public MdevException(int errno, String field, String message) {
        super(message);
        this.errno = errno;
        this.field = field;
    }

    public MdevException(int errno, String field, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
        this.field = field;
    }

    /** EINVAL: a value is malformed or out of range, or the request makes no sense in this state. */
    public static MdevException invalid(String field, String message) {
        return new MdevException(Errno.EINVAL, field, message);
    }

    /** ENOENT: no such parent, type, instance or driver. */
    public static MdevException notFound(String field, String message) {
        return new MdevException(Errno.ENOENT, field, message);
    }

    /** EEXIST: the UUID or name is already taken. */
    public static MdevException exists(String field, String message) {
        return new MdevException(Errno.EEXIST, field, message);
    }

    /** ENOSPC: the type has no available instances left. */
    public static MdevException noSpace(String field, String message) {
        return new MdevException(Errno.ENOSPC, field, message);
    }

    /** EBUSY: the instance is in a state that does not allow the operation (e.g. already bound). */
    public static MdevException busy(String field, String message) {
        return new MdevException(Errno.EBUSY, field, message);
    }

    /** EOPNOTSUPP: the parent or driver does not offer the operation. */
    public static MdevException unsupported(String field, String message) {
        return new MdevException(Errno.EOPNOTSUPP, field, message);
    }

    /** ENODEV: a driver declines an instance in probe (the bus then tries the next driver). */
    public static MdevException decline(String message) {
        return new MdevException(Errno.ENODEV, null, message);
    }

    public int errno() {
        return errno;
    }

    /** The input to blame, if one is. */
    public Optional<String> field() {
        return Optional.ofNullable(field);
    }
}

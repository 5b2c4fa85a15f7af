package io.umdev.virtio.transport;

import io.umdev.linux.Errno;

/**
 * A control-path request on a {@link VirtioDevice} was refused: an out-of-range queue or offset, a
 * change not allowed in the current status. Carries the errno a driver reports to its peer (a vhost
 * ioctl, a vfio-user reply). Never thrown on the data path.
 */
public final class VirtioException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int errno;

    public VirtioException(int errno, String message) {
        super(message, null, false, false);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }

    public static VirtioException invalid(String message) {
        return new VirtioException(Errno.EINVAL, message);
    }

    public static VirtioException busy(String message) {
        return new VirtioException(Errno.EBUSY, message);
    }

    @Override
    public String getMessage() {
        return Errno.name(errno) + ": " + super.getMessage();
    }
}

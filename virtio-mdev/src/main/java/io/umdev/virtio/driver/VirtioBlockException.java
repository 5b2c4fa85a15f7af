package io.umdev.virtio.driver;

import io.umdev.linux.Errno;
import io.umdev.virtio.spec.BlkSpec;

/** A block request finished with a status other than OK; the message says which request and which status. */
public final class VirtioBlockException extends VirtioDriverException {
    private static final long serialVersionUID = 1L;

    private final int status;

    public VirtioBlockException(String request, int status) {
        super(status == BlkSpec.S_UNSUPP ? Errno.EOPNOTSUPP : Errno.EIO,
                request + ": the device answered " + statusName(status));
        this.status = status;
    }

    /** The status byte the device wrote. */
    public int status() {
        return status;
    }

    /** {@code IOERR}, {@code UNSUPP}, or {@code status N} for a value the spec does not define. */
    public static String statusName(int status) {
        return switch (status) {
            case BlkSpec.S_OK -> "OK";
            case BlkSpec.S_IOERR -> "IOERR";
            case BlkSpec.S_UNSUPP -> "UNSUPP";
            default -> "status " + status;
        };
    }
}

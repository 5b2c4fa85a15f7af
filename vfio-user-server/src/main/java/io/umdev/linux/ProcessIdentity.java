package io.umdev.linux;

/** Who this process runs as. */
public final class ProcessIdentity {
    private ProcessIdentity() {
    }

    /** The real user id (getuid). */
    public static long uid() {
        return Integer.toUnsignedLong(LibC.getuid());
    }
}

package io.umdev.virtio.driver;

/**
 * Told of each finished block request by {@link BlockQueue#complete}. Keep one instance and reuse it:
 * completing requests allocates nothing.
 */
@FunctionalInterface
public interface BlockCompletion {
    /**
     * @param cookie what the request was submitted with
     * @param status the device's status byte ({@code BlkSpec.S_OK}, {@code S_IOERR}, {@code S_UNSUPP}, or
     *     another value a faulty device wrote); for reads the data is in the caller's buffer when OK
     */
    void completed(long cookie, int status);
}

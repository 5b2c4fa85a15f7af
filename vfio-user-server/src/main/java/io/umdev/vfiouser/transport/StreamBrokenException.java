package io.umdev.vfiouser.transport;

import java.io.IOException;

/**
 * The byte stream cannot be trusted any more (a header whose size is impossible, a message cut off by
 * end of stream): the only safe answer is to drop the connection.
 */
public final class StreamBrokenException extends IOException {
    private static final long serialVersionUID = 1L;

    public StreamBrokenException(String message) {
        super(message);
    }
}

package io.umdev.vfiouser.client;

import java.time.Duration;

/**
 * How a client behaves.
 *
 * @param maxMsgFds descriptors accepted in one message (announced)
 * @param maxDataXferSize largest data transfer accepted (announced)
 * @param writeMultiple whether to announce REGION_WRITE_MULTI support
 * @param replyTimeout how long a command may wait for its reply
 */
public record ClientOptions(int maxMsgFds, int maxDataXferSize, boolean writeMultiple, Duration replyTimeout) {
    public static ClientOptions defaults() {
        return new ClientOptions(16, 1 << 20, true, Duration.ofSeconds(10));
    }

    public ClientOptions withReplyTimeout(Duration timeout) {
        return new ClientOptions(maxMsgFds, maxDataXferSize, writeMultiple, timeout);
    }

    public ClientOptions withMaxMsgFds(int fds) {
        return new ClientOptions(fds, maxDataXferSize, writeMultiple, replyTimeout);
    }

    public ClientOptions withWriteMultiple(boolean enabled) {
        return new ClientOptions(maxMsgFds, maxDataXferSize, enabled, replyTimeout);
    }

    /** Header plus the largest fixed part plus one data transfer. */
    int maxMessageSize() {
        return 64 + maxDataXferSize;
    }
}

package io.umdev.vfiouser.server;

import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Set;

/**
 * How a server behaves toward its clients.
 *
 * @param maxMsgFds descriptors accepted in one message (announced; QEMU accepts at most 16)
 * @param maxDataXferSize largest data transfer accepted (announced; QEMU accepts at most 64 MiB)
 * @param socketPermissions mode of the socket file
 * @param accessPolicy who may connect
 * @param negotiationTimeout how long a new connection may take to send VERSION
 * @param dmaReplyTimeout how long a DMA_READ/DMA_WRITE to the client may take
 */
public record ServerOptions(int maxMsgFds, int maxDataXferSize, Set<PosixFilePermission> socketPermissions,
        AccessPolicy accessPolicy, Duration negotiationTimeout, Duration dmaReplyTimeout) {
    public static final int DEFAULT_MAX_MSG_FDS = 16;
    public static final int DEFAULT_MAX_DATA_XFER_SIZE = 1 << 20;

    public ServerOptions {
        if (maxMsgFds < 1 || maxMsgFds > DEFAULT_MAX_MSG_FDS) {
            throw new IllegalArgumentException("maxMsgFds must be 1.." + DEFAULT_MAX_MSG_FDS);
        }
        if (maxDataXferSize < 8 || maxDataXferSize > 64 << 20) {
            throw new IllegalArgumentException("maxDataXferSize must be 8 bytes .. 64 MiB");
        }
        socketPermissions = Set.copyOf(socketPermissions);
    }

    public static ServerOptions defaults() {
        return new ServerOptions(DEFAULT_MAX_MSG_FDS, DEFAULT_MAX_DATA_XFER_SIZE,
                PosixFilePermissions.fromString("rw-------"), AccessPolicy.sameUserOrRoot(),
                Duration.ofSeconds(10), Duration.ofSeconds(5));
    }

    public ServerOptions withAccessPolicy(AccessPolicy policy) {
        return new ServerOptions(maxMsgFds, maxDataXferSize, socketPermissions, policy, negotiationTimeout,
                dmaReplyTimeout);
    }

    public ServerOptions withSocketPermissions(Set<PosixFilePermission> permissions) {
        return new ServerOptions(maxMsgFds, maxDataXferSize, permissions, accessPolicy, negotiationTimeout,
                dmaReplyTimeout);
    }

    public ServerOptions withMaxDataXferSize(int bytes) {
        return new ServerOptions(maxMsgFds, bytes, socketPermissions, accessPolicy, negotiationTimeout,
                dmaReplyTimeout);
    }

    public ServerOptions withDmaReplyTimeout(Duration timeout) {
        return new ServerOptions(maxMsgFds, maxDataXferSize, socketPermissions, accessPolicy, negotiationTimeout,
                timeout);
    }

    public ServerOptions withNegotiationTimeout(Duration timeout) {
        return new ServerOptions(maxMsgFds, maxDataXferSize, socketPermissions, accessPolicy, timeout,
                dmaReplyTimeout);
    }

    /** The largest whole message accepted: header, the largest fixed part, and one data transfer. */
    public int maxMessageSize() {
        return MAX_FIXED_OVERHEAD + maxDataXferSize;
    }

    /** Header (16) plus the largest fixed part that precedes data (REGION_WRITE's 16, rounded up). */
    private static final int MAX_FIXED_OVERHEAD = 64;
}

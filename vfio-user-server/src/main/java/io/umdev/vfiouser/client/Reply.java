package io.umdev.vfiouser.client;

import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.protocol.MessageHeader;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A server's reply: header fields, payload and the descriptors that came with it (the caller owns and
 * closes them).
 */
public record Reply(int id, int command, int flags, int error, MemorySegment payload, List<OwnedFd> fds) {
    public boolean isError() {
        return (flags & MessageHeader.ERROR) != 0;
    }

    /** Closes every descriptor the reply carried. */
    public void closeFds() {
        fds.forEach(fd -> {
            if (fd != null) {
                fd.close();
            }
        });
    }
}

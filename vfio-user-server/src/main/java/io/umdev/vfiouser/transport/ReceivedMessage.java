package io.umdev.vfiouser.transport;

import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.protocol.MessageHeader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One message as received: its bytes (a view into the receive buffer, valid until the next receive
 * unless {@link #detach() detached}) and the descriptors that came with it. Descriptors not taken by a
 * handler are closed with the message.
 */
public final class ReceivedMessage implements AutoCloseable {
    private final MemorySegment bytes;
    private final List<OwnedFd> fds;
    private final long declaredSize;

    ReceivedMessage(MemorySegment bytes, List<OwnedFd> fds, long declaredSize) {
        this.bytes = bytes;
        this.fds = fds;
        this.declaredSize = declaredSize;
    }

    /** The header followed by the payload (header only if the payload was too large and discarded). */
    public MemorySegment bytes() {
        return bytes;
    }

    public int id() {
        return MessageHeader.id(bytes);
    }

    public int command() {
        return MessageHeader.command(bytes);
    }

    public int flags() {
        return MessageHeader.flags(bytes);
    }

    public int error() {
        return MessageHeader.error(bytes);
    }

    public boolean isReply() {
        return MessageHeader.isReply(bytes);
    }

    /** The size the header declared, which may exceed what was kept (see {@link #oversized()}). */
    public long declaredSize() {
        return declaredSize;
    }

    /** True if the message was larger than the receiver accepts: its payload was read and discarded. */
    public boolean oversized() {
        return declaredSize != bytes.byteSize();
    }

    public MemorySegment payload() {
        return bytes.asSlice(MessageHeader.SIZE);
    }

    /**
     * The descriptors that came with the message, in order. A handler that keeps one sets its slot to
     * null; what remains is closed with the message.
     */
    public List<OwnedFd> fds() {
        return fds;
    }

    /** A copy that no longer depends on the receive buffer; the descriptors move to the copy. */
    public ReceivedMessage detach() {
        MemorySegment copy = Arena.ofAuto().allocate(bytes.byteSize());
        copy.copyFrom(bytes);
        List<OwnedFd> moved = new ArrayList<>(fds);
        Collections.fill(fds, null);
        return new ReceivedMessage(copy, moved, declaredSize);
    }

    @Override
    public void close() {
        for (int i = 0; i < fds.size(); i++) {
            OwnedFd fd = fds.get(i);
            if (fd != null) {
                fd.close();
                fds.set(i, null);
            }
        }
    }
}

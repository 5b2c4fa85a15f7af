package io.umdev.vhost;

import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.transport.DescriptorStream;
import io.umdev.vfiouser.transport.StreamBrokenException;
import io.umdev.vhost.protocol.MessageHeader;
import io.umdev.vhost.protocol.Payloads;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/**
 * A connected vhost-user socket, either end. Receiving reads one whole message (header, then the payload
 * it declares, at most {@link Payloads#MAX_PAYLOAD} bytes) into a buffer owned by the channel, with the
 * descriptors that came with it duplicated into descriptors we own; one thread receives. Sending is
 * thread-safe, descriptors go with the first byte. The junixsocket pitfalls handled as in the vfio-user
 * transport: the ancillary buffer is made large enough for anything a peer can send, received descriptors
 * are released under junixsocket's map lock, and those of a failed receive are closed.
 */
public final class VhostUserChannel implements AutoCloseable {
    private final DescriptorStream stream;
    private final ByteBuffer rx = ByteBuffer.allocateDirect(MessageHeader.SIZE + Payloads.MAX_PAYLOAD)
            .order(ByteOrder.nativeOrder());
    private final MemorySegment rxSegment = MemorySegment.ofBuffer(rx);

    /** One received message; its bytes are valid until the next receive, its descriptors are the caller's. */
    public record Message(int request, int flags, MemorySegment payload, List<OwnedFd> fds) implements AutoCloseable {
        public boolean needsReply() {
            return (flags & MessageHeader.FLAG_NEED_REPLY) != 0;
        }

        /** Closes the descriptors nobody took (a taker sets its slot to null). */
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

    public VhostUserChannel(AFUNIXSocketChannel channel) throws IOException {
        this.stream = new DescriptorStream(channel);
    }

    /**
     * Receives one message, or null if the peer closed the connection between messages.
     *
     * @throws StreamBrokenException for a header that cannot be followed (bad version, reply flag on a
     *     request when {@code expectReply} is false, a payload over the limit) or a stream cut mid-message
     */
    public Message receive(boolean expectReply) throws IOException {
        return stream.receiving(() -> receiveMessage(expectReply));
    }

    private Message receiveMessage(boolean expectReply) throws IOException {
        rx.clear().limit(MessageHeader.SIZE);
        if (!stream.readFully(rx, true)) {
            stream.discardDescriptors();
            return null;
        }
        int request = MessageHeader.request(rxSegment);
        int flags = MessageHeader.flags(rxSegment);
        long size = MessageHeader.payloadSize(rxSegment);
        if ((flags & MessageHeader.VERSION_MASK) != MessageHeader.VERSION || (flags & ~MessageHeader.KNOWN_FLAGS) != 0) {
            throw new StreamBrokenException(String.format("message flags 0x%x: not vhost-user version %d",
                    flags, MessageHeader.VERSION));
        }
        if (((flags & MessageHeader.FLAG_REPLY) != 0) != expectReply) {
            throw new StreamBrokenException(expectReply ? "expected a reply" : "a reply where a request was expected");
        }
        if (size > Payloads.MAX_PAYLOAD) {
            throw new StreamBrokenException("payload of " + size + " bytes is over the " + Payloads.MAX_PAYLOAD
                    + "-byte limit");
        }
        rx.limit(MessageHeader.SIZE + (int) size);
        stream.readFully(rx, false);
        List<OwnedFd> fds = stream.takeDescriptors();
        return new Message(request, flags, rxSegment.asSlice(MessageHeader.SIZE, size), fds);
    }

    /** Sends one message: header with {@code request}, {@code flags} and the payload's size, then the payload. */
    public void send(int request, int flags, MemorySegment payload, List<OwnedFd> fds) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(MessageHeader.SIZE + (int) payload.byteSize()).order(ByteOrder.nativeOrder());
        MemorySegment whole = MemorySegment.ofBuffer(buffer);
        MessageHeader.write(whole, request, flags, (int) payload.byteSize());
        whole.asSlice(MessageHeader.SIZE).copyFrom(payload);
        stream.send(buffer, fds);
    }

    public boolean isOpen() {
        return stream.isOpen();
    }

    /** Closes the socket; a thread blocked receiving gets an exception. */
    @Override
    public void close() throws IOException {
        stream.close();
    }
}

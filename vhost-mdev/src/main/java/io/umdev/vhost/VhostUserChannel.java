package io.umdev.vhost;

import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.transport.ReceivedDescriptors;
import io.umdev.vfiouser.transport.StreamBrokenException;
import io.umdev.vhost.protocol.MessageHeader;
import io.umdev.vhost.protocol.Payloads;
import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * A connected vhost-user socket, either end. Receiving reads one whole message (header, then the payload
 * it declares, at most {@link Payloads#MAX_PAYLOAD} bytes) into a buffer owned by the channel, with the
 * descriptors that came with it duplicated into descriptors we own; one thread receives. Sending is
 * thread-safe, descriptors go with the first byte. The junixsocket pitfalls handled as in the vfio-user
 * transport: the ancillary buffer is made large enough for anything a peer can send, received descriptors
 * are released under junixsocket's map lock, and those of a failed receive are closed.
 */
public final class VhostUserChannel implements AutoCloseable {
    private final AFUNIXSocketChannel channel;
    private final ReceivedDescriptors received;
    private final ReentrantLock sendLock = new ReentrantLock();
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
        this.channel = channel;
        channel.configureBlocking(true);
        this.received = new ReceivedDescriptors(channel);
    }

    /**
     * Receives one message, or null if the peer closed the connection between messages.
     *
     * @throws StreamBrokenException for a header that cannot be followed (bad version, reply flag on a
     *     request when {@code expectReply} is false, a payload over the limit) or a stream cut mid-message
     */
    public Message receive(boolean expectReply) throws IOException {
        try {
            return receiveMessage(expectReply);
        } catch (IOException | RuntimeException e) {
            try {
                received.discard();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private Message receiveMessage(boolean expectReply) throws IOException {
        rx.clear().limit(MessageHeader.SIZE);
        if (!readFully(rx, true)) {
            received.discard();
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
        readFully(rx, false);
        List<OwnedFd> fds = received.take();
        return new Message(request, flags, rxSegment.asSlice(MessageHeader.SIZE, size), fds);
    }

    private boolean readFully(ByteBuffer buffer, boolean eofAllowedAtStart) throws IOException {
        boolean any = buffer.position() > 0;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer);
            if (n < 0) {
                if (!any && eofAllowedAtStart) {
                    return false;
                }
                throw new StreamBrokenException("connection closed in the middle of a message");
            }
            any |= n > 0;
        }
        return true;
    }

    /** Sends one message: header with {@code request}, {@code flags} and the payload's size, then the payload. */
    public void send(int request, int flags, MemorySegment payload, List<OwnedFd> fds) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(MessageHeader.SIZE + (int) payload.byteSize()).order(ByteOrder.nativeOrder());
        MemorySegment whole = MemorySegment.ofBuffer(buffer);
        MessageHeader.write(whole, request, flags, (int) payload.byteSize());
        whole.asSlice(MessageHeader.SIZE).copyFrom(payload);
        sendLock.lock();
        try {
            List<OwnedFd> held = new ArrayList<>(fds.size());
            try {
                for (OwnedFd fd : fds) {
                    if (!fd.acquire()) {
                        throw new IOException("cannot send " + fd + ": it is closed");
                    }
                    held.add(fd);
                }
                if (!held.isEmpty()) {
                    FileDescriptor[] out = new FileDescriptor[held.size()];
                    for (int i = 0; i < out.length; i++) {
                        out[i] = FileDescriptorCast.unsafeUsing(held.get(i).fd()).getFileDescriptor();
                    }
                    channel.setOutboundFileDescriptors(out);
                }
                try {
                    boolean first = true;
                    while (buffer.hasRemaining()) {
                        channel.write(buffer);
                        if (first && buffer.hasRemaining() && !held.isEmpty()) {
                            channel.setOutboundFileDescriptors((FileDescriptor[]) null);
                        }
                        first = false;
                    }
                } finally {
                    if (!held.isEmpty()) {
                        channel.setOutboundFileDescriptors((FileDescriptor[]) null);
                    }
                }
            } finally {
                held.forEach(OwnedFd::release);
            }
        } finally {
            sendLock.unlock();
        }
    }

    public boolean isOpen() {
        return channel.isOpen();
    }

    /** Closes the socket; a thread blocked receiving gets an exception. */
    @Override
    public void close() throws IOException {
        channel.close();
    }
}

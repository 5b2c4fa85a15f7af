package io.umdev.vfiouser.transport;

import io.umdev.linux.LinuxException;
import io.umdev.linux.OwnedFd;
import io.umdev.linux.Poll;
import io.umdev.vfiouser.protocol.MessageHeader;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Path;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * A connected vfio-user socket. Sending is thread-safe: each message goes out whole, its descriptors
 * attached to its first byte. Receiving reads exactly one message (header, then the size it declares)
 * into a buffer owned by the channel, so one thread at a time may receive.
 */
public final class MessageChannel implements AutoCloseable {
    /** Receive buffers start small and grow to the largest message accepted. */
    private static final int INITIAL_BUFFER = 64 * 1024;

    private final AFUNIXSocketChannel channel;
    private final int socketFd;
    private final DescriptorStream stream;
    private final ByteBuffer header = ByteBuffer.allocateDirect(MessageHeader.SIZE).order(ByteOrder.nativeOrder());
    private final MemorySegment headerSegment = MemorySegment.ofBuffer(header);
    private ByteBuffer rx;
    private MemorySegment rxSegment;

    private MessageChannel(AFUNIXSocketChannel channel) throws IOException {
        this.channel = channel;
        this.stream = new DescriptorStream(channel);
        this.socketFd = FileDescriptorCast.using(channel.getFileDescriptor()).as(Integer.class);
        this.rx = ByteBuffer.allocateDirect(INITIAL_BUFFER).order(ByteOrder.nativeOrder());
        this.rxSegment = MemorySegment.ofBuffer(rx);
    }

    /** Wraps a channel accepted by a server. */
    public static MessageChannel accepted(AFUNIXSocketChannel channel) throws IOException {
        return new MessageChannel(channel);
    }

    /** Connects to the server listening at {@code path}. */
    public static MessageChannel connect(Path path) throws IOException {
        AFUNIXSocketChannel channel = AFUNIXSocketChannel.open(AFUNIXSocketAddress.of(path));
        try {
            return new MessageChannel(channel);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** The peer's pid, uid and gid. */
    public PeerCredentials peer() throws IOException {
        AFUNIXSocketCredentials c = channel.getPeerCredentials();
        return new PeerCredentials(c.getPid(), c.getUid(), c.getGid());
    }

    /**
     * Waits until a message can be received or the peer hung up; false on timeout. For a receiver that
     * must not block past a deadline.
     */
    public boolean awaitReadable(int timeoutMillis) throws IOException {
        if (!channel.isOpen()) {
            throw new ClosedChannelException();
        }
        try {
            return Poll.poll(socketFd, Poll.POLLIN, timeoutMillis) != 0;
        } catch (LinuxException e) {
            throw new IOException("poll on vfio-user socket: " + e.getMessage(), e);
        }
    }

    /**
     * Receives exactly one message into the channel's buffer: the result is valid until the next
     * receive. A message larger than {@code maxMessageSize} has its payload read and discarded (see
     * {@link ReceivedMessage#oversized()}), so the stream stays in step. Returns null when the peer
     * closed the connection between messages.
     *
     * @throws StreamBrokenException if the header is impossible or the stream ends inside a message
     */
    public ReceivedMessage receive(int maxMessageSize) throws IOException {
        return receive(maxMessageSize, false);
    }

    /** Like {@link #receive(int)}, into memory of its own that outlives later receives. */
    public ReceivedMessage receiveDetached(int maxMessageSize) throws IOException {
        return receive(maxMessageSize, true);
    }

    private ReceivedMessage receive(int maxMessageSize, boolean detached) throws IOException {
        return stream.receiving(() -> receiveMessage(maxMessageSize, detached));
    }

    private ReceivedMessage receiveMessage(int maxMessageSize, boolean detached) throws IOException {
        header.clear();
        if (!stream.readFully(header, true)) {
            stream.discardDescriptors();
            return null;
        }
        long size = MessageHeader.size(headerSegment);
        if (size < MessageHeader.SIZE) {
            throw new StreamBrokenException("message header declares " + size + " bytes, less than the header itself");
        }
        boolean oversized = size > maxMessageSize;
        int kept = oversized ? MessageHeader.SIZE : (int) size;
        ByteBuffer target;
        if (detached) {
            // Heap memory: cheap to allocate for each message, and collected with it.
            target = ByteBuffer.allocate(kept).order(ByteOrder.nativeOrder());
        } else {
            if (kept > rx.capacity()) {
                rx = ByteBuffer.allocateDirect(kept).order(ByteOrder.nativeOrder());
                rxSegment = MemorySegment.ofBuffer(rx);
            }
            target = rx.clear().limit(kept);
        }
        target.put(header.flip());
        if (oversized) {
            discard(size - MessageHeader.SIZE);
        } else {
            stream.readFully(target, false);
        }
        List<OwnedFd> fds = stream.takeDescriptors();
        MemorySegment bytes = detached ? MemorySegment.ofBuffer(target.clear()) : rxSegment.asSlice(0, kept);
        return new ReceivedMessage(bytes, fds, size);
    }

    /** Reads and drops {@code bytes}, into the receive buffer past the header kept there. */
    private void discard(long bytes) throws IOException {
        ByteBuffer sink = rx.duplicate();
        long room = sink.capacity() - MessageHeader.SIZE;
        long left = bytes;
        while (left > 0) {
            long chunk = Math.min(room, left);
            sink.clear().position(MessageHeader.SIZE).limit((int) (MessageHeader.SIZE + chunk));
            stream.readFully(sink, false);
            left -= chunk;
        }
    }

    /** Sends one message: {@code message} is the whole message, header included. */
    public void send(MemorySegment message, List<OwnedFd> fds) throws IOException {
        stream.send(message.asByteBuffer(), fds);
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

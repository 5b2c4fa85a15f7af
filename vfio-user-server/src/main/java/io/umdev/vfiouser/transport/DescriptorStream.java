package io.umdev.vfiouser.transport;

import io.umdev.linux.OwnedFd;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * A connected, blocking Unix stream socket that carries descriptors, as both umdev transports (vfio-user
 * and vhost-user) use one: whole writes with their descriptors attached to the first byte, exact reads,
 * and the received descriptors taken over through {@link ReceivedDescriptors}. Sending is thread-safe;
 * one thread at a time receives.
 */
public final class DescriptorStream implements AutoCloseable {
    /** A receive that may fail part-way through a message. */
    public interface Receive<T> {
        T run() throws IOException;
    }

    private final AFUNIXSocketChannel channel;
    private final ReceivedDescriptors received;
    private final ReentrantLock sendLock = new ReentrantLock();

    public DescriptorStream(AFUNIXSocketChannel channel) throws IOException {
        this.channel = channel;
        channel.configureBlocking(true);
        this.received = new ReceivedDescriptors(channel);
    }

    /**
     * Runs {@code receive}; if it fails, the descriptors that came with the bytes read so far belong to no
     * message and are closed. junixsocket closes them only if the socket closes after they arrived: a close
     * racing with the read would leak them.
     */
    public <T> T receiving(Receive<T> receive) throws IOException {
        try {
            return receive.run();
        } catch (IOException | RuntimeException e) {
            try {
                received.discard();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** Fills {@code buffer} up to its limit. Returns false on end of stream before any byte when allowed. */
    public boolean readFully(ByteBuffer buffer, boolean eofAllowedAtStart) throws IOException {
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

    /** The descriptors that came with the bytes read since the last call, now ours (an empty list if none). */
    public List<OwnedFd> takeDescriptors() throws IOException {
        return received.take();
    }

    /** Closes the descriptors that came with the bytes read since the last call: they belong to no message. */
    public void discardDescriptors() throws IOException {
        received.discard();
    }

    /** Sends {@code buffer} whole, {@code fds} attached to its first byte. Thread-safe. */
    public void send(ByteBuffer buffer, List<OwnedFd> fds) throws IOException {
        sendLock.lock();
        try {
            List<OwnedFd> held = acquireAll(fds);
            try {
                if (!held.isEmpty()) {
                    FileDescriptor[] out = new FileDescriptor[held.size()];
                    for (int i = 0; i < out.length; i++) {
                        out[i] = FileDescriptorCast.unsafeUsing(held.get(i).fd()).getFileDescriptor();
                    }
                    channel.setOutboundFileDescriptors(out);
                }
                try {
                    writeFully(buffer);
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

    private void writeFully(ByteBuffer buffer) throws IOException {
        boolean first = true;
        while (buffer.hasRemaining()) {
            channel.write(buffer);
            if (first && buffer.hasRemaining()) {
                // The descriptors went with the first part; never send them twice.
                channel.setOutboundFileDescriptors((FileDescriptor[]) null);
            }
            first = false;
        }
    }

    private static List<OwnedFd> acquireAll(List<OwnedFd> fds) throws IOException {
        if (fds.isEmpty()) {
            return List.of();
        }
        List<OwnedFd> held = new ArrayList<>(fds.size());
        for (OwnedFd fd : fds) {
            if (!fd.acquire()) {
                held.forEach(OwnedFd::release);
                throw new IOException("cannot send " + fd + ": it is closed");
            }
            held.add(fd);
        }
        return held;
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

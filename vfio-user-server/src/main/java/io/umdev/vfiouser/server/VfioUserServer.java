package io.umdev.vfiouser.server;

import io.umdev.linux.Errno;
import io.umdev.vfiouser.protocol.MessageHeader;
import io.umdev.vfiouser.transport.MessageChannel;
import io.umdev.vfiouser.transport.PeerCredentials;
import io.umdev.vfiouser.transport.ReceivedMessage;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.SocketException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves one device on one Unix socket, to one client at a time. A second client is refused with
 * EBUSY in answer to its VERSION while the first carries on; a peer the access policy rejects gets
 * EACCES. When a client leaves, the device is reset and the next client may connect.
 */
public final class VfioUserServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VfioUserServer.class);
    /** How long a new client waits for the previous one's teardown before it is refused. */
    private static final long TEARDOWN_GRACE_SECONDS = 10;
    /** How long a new client waits for a connected one to leave before it is refused. */
    private static final long ADMISSION_GRACE_MILLIS = 1000;

    private final Path socketPath;
    private final String name;
    private final VfioUserDevice device;
    private final ServerOptions options;
    private final AFUNIXServerSocketChannel listener;
    private final Thread acceptor;
    private final Object admission = new Object();
    private volatile Session session;
    private volatile boolean closed;

    private VfioUserServer(Path socketPath, VfioUserDevice device, ServerOptions options,
            AFUNIXServerSocketChannel listener) {
        this.socketPath = socketPath;
        this.name = socketPath.getFileName().toString();
        this.device = device;
        this.options = options;
        this.listener = listener;
        this.acceptor = Thread.ofPlatform().name("vfio-user-accept:" + name).daemon(true).unstarted(this::acceptLoop);
    }

    /**
     * Listens at {@code socketPath} (mode from the options, 0600 by default). A stale socket file left by
     * a dead server is replaced; a live one, or any other file, is an error.
     */
    public static VfioUserServer start(Path socketPath, VfioUserDevice device, ServerOptions options)
            throws IOException {
        Path path = socketPath.toAbsolutePath();
        removeStaleSocket(path);
        AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open();
        try {
            listener.bind(AFUNIXSocketAddress.of(path));
            Files.setPosixFilePermissions(path, options.socketPermissions());
        } catch (IOException | RuntimeException e) {
            listener.close();
            Files.deleteIfExists(path);
            throw e;
        }
        VfioUserServer server = new VfioUserServer(path, device, options, listener);
        server.acceptor.start();
        LOG.info("serving {} on {}", server.name, path);
        return server;
    }

    private static void removeStaleSocket(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attributes.isOther()) {
            throw new FileAlreadyExistsException(path.toString(), null, "exists and is not a socket");
        }
        try {
            AFUNIXSocketChannel.open(AFUNIXSocketAddress.of(path)).close();
        } catch (SocketException refused) {
            LOG.info("replacing stale socket {}", path);
            Files.delete(path);
            return;
        }
        throw new FileAlreadyExistsException(path.toString(), null, "another server is listening there");
    }

    public Path socketPath() {
        return socketPath;
    }

    /** True while a client is connected (negotiating, connected or being torn down). */
    public boolean hasClient() {
        Session s = session;
        return s != null && !s.awaitEndQuietly(0);
    }

    /** Waits until no client is connected; true if that happened within the timeout. */
    public boolean awaitNoClient(long timeout, TimeUnit unit) throws InterruptedException {
        Session s = session;
        return s == null || s.awaitEnd(timeout, unit);
    }

    private void acceptLoop() {
        while (!closed) {
            AFUNIXSocketChannel accepted;
            try {
                accepted = listener.accept();
            } catch (ClosedChannelException e) {
                break;
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("{}: accept failed: {}", name, e.getMessage());
                }
                continue;
            }
            try {
                admit(accepted);
            } catch (IOException | RuntimeException e) {
                LOG.warn("{}: could not take a new connection: {}", name, e.getMessage());
                closeQuietly(accepted);
            }
        }
    }

    private void admit(AFUNIXSocketChannel accepted) throws IOException {
        MessageChannel channel = MessageChannel.accepted(accepted);
        PeerCredentials peer = channel.peer();
        if (!options.accessPolicy().permits(peer)) {
            LOG.warn("{}: refusing pid {} (uid {}): not permitted by the access policy", name, peer.pid(), peer.uid());
            Thread.ofPlatform().name("vfio-user-refuse:" + name).daemon(true).start(() -> refuse(channel, Errno.EACCES));
            return;
        }
        Thread.ofPlatform().name("vfio-user-admit:" + name).daemon(true).start(() -> decide(channel, peer));
    }

    /**
     * Starts a session for the new peer, or refuses it with EBUSY if the device already has a client.
     * A previous client that is just leaving (a QEMU restarted right after a kill) is given a moment to
     * finish first. The decision is made under a lock, so two newcomers cannot both win.
     */
    private void decide(MessageChannel channel, PeerCredentials peer) {
        long graceEnd = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ADMISSION_GRACE_MILLIS);
        Session current;
        while (true) {
            synchronized (admission) {
                current = session;
                if (closed) {
                    closeQuietly(channel);
                    return;
                }
                if (current == null || current.awaitEndQuietly(0)) {
                    Session next = new Session(name, channel, peer, device, options);
                    session = next;
                    next.start();
                    return;
                }
            }
            long waitMillis = current.isClosing() ? TimeUnit.SECONDS.toMillis(TEARDOWN_GRACE_SECONDS)
                    : TimeUnit.NANOSECONDS.toMillis(graceEnd - System.nanoTime());
            if (waitMillis <= 0 || !current.awaitEndQuietly(waitMillis)) {
                break;
            }
        }
        LOG.warn("{}: refusing pid {}: the device already has a client (pid {})", name, peer.pid(), current.peer().pid());
        refuse(channel, Errno.EBUSY);
    }

    /** Answers the refused peer's first message with an error, then hangs up. */
    private void refuse(MessageChannel channel, int errno) {
        try (channel) {
            if (!channel.awaitReadable((int) options.negotiationTimeout().toMillis())) {
                return;
            }
            try (ReceivedMessage m = channel.receive(options.maxMessageSize())) {
                if (m == null || m.isReply() || (m.flags() & MessageHeader.NO_REPLY) != 0) {
                    return;
                }
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment reply = arena.allocate(MessageHeader.SIZE);
                    MessageHeader.write(reply, m.id(), m.command(), MessageHeader.SIZE,
                            MessageHeader.TYPE_REPLY | MessageHeader.ERROR, errno);
                    channel.send(reply, List.of());
                }
            }
        } catch (IOException e) {
            LOG.debug("{}: refused peer: {}", name, e.getMessage());
        }
    }

    /** Stops accepting, disconnects the client (resetting the device) and removes the socket file. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly(listener);
        Session s = session;
        if (s != null) {
            s.disconnect();
            try {
                if (!s.awaitEnd(TEARDOWN_GRACE_SECONDS, TimeUnit.SECONDS)) {
                    LOG.warn("{}: client teardown did not finish in {} s", name, TEARDOWN_GRACE_SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            acceptor.join(TimeUnit.SECONDS.toMillis(TEARDOWN_GRACE_SECONDS));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            Files.deleteIfExists(socketPath);
        } catch (IOException e) {
            LOG.warn("{}: removing {}: {}", name, socketPath, e.getMessage());
        }
        LOG.info("stopped serving {}", name);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            LOG.debug("close: {}", e.getMessage());
        }
    }
}

package io.umdev.daemon.control;

import io.umdev.daemon.json.Json;
import io.umdev.vfiouser.server.AccessPolicy;
import io.umdev.vfiouser.transport.PeerCredentials;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketException;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control socket: a Unix socket, mode 0600, in the run directory. Each connection's peer
 * credentials are checked against the access policy (the daemon's user and root by default); a peer
 * refused gets one {@code denied} reply to its first request and is hung up on. An admitted peer sends requests, one JSON
 * object per line (UTF-8, at most {@link #MAX_LINE} bytes), and gets one reply line for each, in order,
 * on the same connection, until it closes it. A line too long gets an error reply and the connection is
 * closed (the stream cannot be resynchronized).
 */
public final class ControlServer implements AutoCloseable {
    /** The longest request line accepted. */
    public static final int MAX_LINE = 1 << 20;
    /** Connections served at once; more wait in the listen backlog. */
    static final int MAX_CONNECTIONS = 64;

    private static final Logger LOG = LoggerFactory.getLogger(ControlServer.class);

    private final Path socketPath;
    private final ControlProtocol protocol;
    private final AccessPolicy policy;
    private final AFUNIXServerSocketChannel listener;
    private final Thread acceptor;
    private final Semaphore slots = new Semaphore(MAX_CONNECTIONS);
    private final Set<AFUNIXSocketChannel> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private ControlServer(Path socketPath, ControlProtocol protocol, AccessPolicy policy,
            AFUNIXServerSocketChannel listener) {
        this.socketPath = socketPath;
        this.protocol = protocol;
        this.policy = policy;
        this.listener = listener;
        this.acceptor = Thread.ofPlatform().name("umdev-control-accept").daemon(true).unstarted(this::acceptLoop);
    }

    /**
     * Listens at {@code socketPath}. A stale socket left by a daemon that died is replaced; a live one
     * (another daemon) or any other file is an error.
     */
    public static ControlServer start(Path socketPath, ControlProtocol protocol, AccessPolicy policy)
            throws IOException {
        Path path = socketPath.toAbsolutePath();
        removeStaleSocket(path);
        AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open();
        try {
            listener.bind(AFUNIXSocketAddress.of(path));
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException | RuntimeException e) {
            listener.close();
            Files.deleteIfExists(path);
            throw e;
        }
        ControlServer server = new ControlServer(path, protocol, policy, listener);
        server.acceptor.start();
        return server;
    }

    private static void removeStaleSocket(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attributes.isOther()) {
            throw new FileAlreadyExistsException(path.toString(), null, "exists and is not a socket; remove it or "
                    + "choose another --run-dir");
        }
        try {
            AFUNIXSocketChannel.open(AFUNIXSocketAddress.of(path)).close();
        } catch (SocketException refused) {
            LOG.info("replacing stale control socket {}", path);
            Files.delete(path);
            return;
        }
        throw new FileAlreadyExistsException(path.toString(), null, "another umdevd is listening there; stop it, or "
                + "choose another --run-dir");
    }

    public Path socketPath() {
        return socketPath;
    }

    private void acceptLoop() {
        while (!closed) {
            AFUNIXSocketChannel channel;
            try {
                slots.acquire();
                channel = listener.accept();
            } catch (ClosedChannelException e) {
                slots.release();
                break;
            } catch (InterruptedException e) {
                break;
            } catch (IOException e) {
                slots.release();
                if (!closed) {
                    LOG.warn("control socket: accept failed: {}", e.toString());
                }
                continue;
            }
            open.add(channel);
            Thread.ofVirtual().name("umdev-control").start(() -> {
                try {
                    serve(channel);
                } finally {
                    open.remove(channel);
                    closeQuietly(channel);
                    slots.release();
                }
            });
        }
    }

    private void serve(AFUNIXSocketChannel channel) {
        try {
            AFUNIXSocketCredentials c = channel.getPeerCredentials();
            PeerCredentials peer = new PeerCredentials(c.getPid(), c.getUid(), c.getGid());
            OutputStream out = Channels.newOutputStream(channel);
            InputStream in = new BufferedInputStream(Channels.newInputStream(channel));
            if (!policy.permits(peer)) {
                LOG.warn("control socket: refusing pid {} (uid {}): not permitted", peer.pid(), peer.uid());
                // Read (and ignore) the first request, so the refusal is its answer rather than a hang-up
                // that could meet the client's write.
                try {
                    readLine(in);
                } catch (LineTooLongException ignored) {
                    // Refused either way.
                }
                ControlError denied = new ControlError(ErrorCode.DENIED, null, "uid " + peer.uid()
                        + " may not use this daemon's control socket", "run umdevctl as the daemon's user or as root");
                reply(out, "{\"ok\":false,\"error\":" + Json.line(denied.toJson()) + "}");
                return;
            }
            while (!closed) {
                String line;
                try {
                    line = readLine(in);
                } catch (LineTooLongException e) {
                    ControlError error = new ControlError(ErrorCode.BAD_REQUEST, null, "the request line is longer than "
                            + MAX_LINE + " bytes", "send one JSON object per line");
                    reply(out, "{\"ok\":false,\"error\":" + Json.line(error.toJson()) + "}");
                    return;
                }
                if (line == null) {
                    return;
                }
                if (!line.isBlank()) {
                    reply(out, protocol.handle(line));
                }
            }
        } catch (IOException e) {
            if (!closed) {
                LOG.debug("control connection ended: {}", e.toString());
            }
        }
    }

    /** A request line exceeded {@link #MAX_LINE}. */
    private static final class LineTooLongException extends IOException {
        private static final long serialVersionUID = 1L;
    }

    /** The next line without its newline; null at end of stream (a last line without newline counts). */
    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(256);
        while (true) {
            int b = in.read();
            if (b < 0) {
                return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
            }
            if (b == '\n') {
                return line.toString(StandardCharsets.UTF_8);
            }
            if (line.size() >= MAX_LINE) {
                throw new LineTooLongException();
            }
            line.write(b);
        }
    }

    private static void reply(OutputStream out, String line) throws IOException {
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Stops accepting, hangs up on every client and removes the socket file. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly(listener);
        for (AFUNIXSocketChannel channel : open) {
            closeQuietly(channel);
        }
        try {
            acceptor.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            Files.deleteIfExists(socketPath);
        } catch (IOException e) {
            LOG.warn("removing {}: {}", socketPath, e.toString());
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            LOG.debug("close: {}", e.toString());
        }
    }
}

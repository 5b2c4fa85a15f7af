package io.umdev.vhost;

import io.umdev.vfiouser.transport.StreamBrokenException;
import io.umdev.virtio.transport.VirtioDevice;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Objects;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A vhost-user backend socket for one virtio device: listens at a path (the backend is the server, as
 * QEMU's {@code -chardev socket,path=...} without {@code server=on} and DPDK's {@code virtio_user}
 * expect) and serves one front-end at a time, each in a fresh {@link VhostUserSession} on a thread of its
 * own. A second front-end while one is connected is turned away. When a front-end disconnects its session
 * closes (rings stopped, device reset, memory unmapped) and the next one that connects starts over: this is
 * QEMU's {@code reconnect}. The device and its data outlive every session.
 */
public final class VhostUserServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserServer.class);
    private static final long JOIN_MILLIS = 10_000;

    private final VirtioDevice device;
    private final Path path;
    private final String name;
    private final AFUNIXServerSocketChannel server;
    private final Thread acceptor;
    private final Object lock = new Object();
    private VhostUserChannel active;
    private Thread activeThread;
    private volatile boolean closed;
    private volatile long sessions;

    private VhostUserServer(VirtioDevice device, Path path, String name) throws IOException {
        this.device = device;
        this.path = path;
        this.name = name;
        Files.deleteIfExists(path);
        this.server = AFUNIXServerSocketChannel.open();
        try {
            server.bind(AFUNIXSocketAddress.of(path));
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            server.close();
            throw e;
        }
        this.acceptor = Thread.ofPlatform().daemon().name("vhost-accept-" + name).unstarted(this::acceptLoop);
    }

    /** Listens at {@code path} (replacing a stale socket file) and serves {@code device}. */
    public static VhostUserServer start(VirtioDevice device, Path path, String name) throws IOException {
        VhostUserServer s = new VhostUserServer(Objects.requireNonNull(device, "device"),
                Objects.requireNonNull(path, "path").toAbsolutePath(), Objects.requireNonNull(name, "name"));
        s.acceptor.start();
        LOG.info("{}: vhost-user backend listening at {}", name, s.path);
        return s;
    }

    public Path path() {
        return path;
    }

    /** Front-ends served so far (a reconnect counts again). */
    public long sessions() {
        return sessions;
    }

    /** Whether a front-end is connected now. */
    public boolean connected() {
        synchronized (lock) {
            return active != null;
        }
    }

    private void acceptLoop() {
        while (!closed) {
            AFUNIXSocketChannel socket;
            try {
                socket = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("{}: accept failed: {}", name, e.toString());
                }
                return;
            }
            VhostUserChannel channel;
            try {
                channel = new VhostUserChannel(socket);
            } catch (IOException e) {
                LOG.warn("{}: setting up a connection failed: {}", name, e.toString());
                closeQuietly(socket);
                continue;
            }
            synchronized (lock) {
                if (closed || active != null) {
                    LOG.warn("{}: a second front-end connected while one is served; turned away", name);
                    closeQuietly(channel);
                    continue;
                }
                active = channel;
                sessions++;
                activeThread = Thread.ofPlatform().daemon().name("vhost-session-" + name).unstarted(() -> serve(channel));
                activeThread.start();
            }
        }
    }

    private void serve(VhostUserChannel channel) {
        LOG.info("{}: front-end connected", name);
        try (VhostUserSession session = new VhostUserSession(device, name)) {
            while (true) {
                VhostUserChannel.Message m = channel.receive(false);
                if (m == null) {
                    break;
                }
                session.handle(m, channel);
            }
        } catch (StreamBrokenException e) {
            LOG.warn("{}: closing the connection: {}", name, e.getMessage());
        } catch (IOException e) {
            if (!closed) {
                LOG.info("{}: connection ended: {}", name, e.toString());
            }
        } catch (RuntimeException e) {
            LOG.error("{}: session failed", name, e);
        } finally {
            closeQuietly(channel);
            synchronized (lock) {
                active = null;
                activeThread = null;
            }
            LOG.info("{}: front-end disconnected; the device is reset and waits for the next one", name);
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            LOG.debug("close: {}", e.toString());
        }
    }

    /** Stops listening, ends the current session (its cleanup runs) and removes the socket file. */
    @Override
    public void close() {
        closed = true;
        closeQuietly(server);
        Thread session;
        synchronized (lock) {
            if (active != null) {
                closeQuietly(active);
            }
            session = activeThread;
        }
        join(acceptor);
        if (session != null) {
            join(session);
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.warn("{}: removing {}: {}", name, path, e.toString());
        }
    }

    private void join(Thread t) {
        if (t == Thread.currentThread()) {
            return;
        }
        try {
            t.join(JOIN_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (t.isAlive()) {
            LOG.warn("{}: thread {} did not end", name, t.getName());
        }
    }
}

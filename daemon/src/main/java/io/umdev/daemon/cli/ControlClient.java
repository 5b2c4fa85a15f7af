package io.umdev.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.umdev.daemon.json.Json;
import io.umdev.daemon.json.JsonFieldException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;

/** One connection to the daemon's control socket: a request line out, a reply line back. */
final class ControlClient implements AutoCloseable {
    /** The daemon cannot be reached; the message says why and what to do. */
    static final class UnreachableException extends Exception {
        private static final long serialVersionUID = 1L;

        UnreachableException(String message) {
            super(message);
        }
    }

    private static final int MAX_REPLY = 256 << 20;

    private final SocketChannel channel;
    private final Path socket;
    private final Duration timeout;

    private ControlClient(SocketChannel channel, Path socket, Duration timeout) {
        this.channel = channel;
        this.socket = socket;
        this.timeout = timeout;
    }

    static ControlClient connect(Path socket, Duration timeout) throws UnreachableException {
        String start = "start it with 'bin/umdevd' (add --run-dir if it should use another directory), or point "
                + "umdevctl at the daemon's run directory with --run-dir DIR";
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            throw new UnreachableException("umdevd is not running: there is no control socket at " + socket + "; "
                    + start);
        }
        SocketChannel channel = null;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
            channel.configureBlocking(false);
            return new ControlClient(channel, socket, timeout);
        } catch (ConnectException e) {
            close(channel);
            throw new UnreachableException("umdevd is not running: " + socket + " is a stale socket (" + e.getMessage()
                    + "); " + start);
        } catch (AccessDeniedException e) {
            close(channel);
            throw new UnreachableException("cannot open " + socket + ": permission denied; run umdevctl as the "
                    + "daemon's user or as root");
        } catch (IOException e) {
            close(channel);
            String reason = e instanceof SocketException && "Permission denied".equals(e.getMessage())
                    ? "permission denied; run umdevctl as the daemon's user or as root" : e.getMessage() + "; " + start;
            throw new UnreachableException("cannot connect to umdevd at " + socket + ": " + reason);
        }
    }

    private static void close(SocketChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // Nothing more to do for a connection that never worked.
            }
        }
    }

    /** Sends one request and waits (at most the timeout) for its reply. */
    JsonNode send(JsonNode request) throws UnreachableException {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Selector selector = Selector.open()) {
            ByteBuffer out = ByteBuffer.wrap((Json.line(request) + "\n").getBytes(StandardCharsets.UTF_8));
            SelectionKey key = channel.register(selector, SelectionKey.OP_WRITE);
            ByteArrayOutputStream reply = new ByteArrayOutputStream(4096);
            ByteBuffer in = ByteBuffer.allocate(64 << 10);
            while (true) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new UnreachableException("umdevd at " + socket + " did not answer within "
                            + timeout.toSeconds() + " s; is it stuck? its log may say why");
                }
                selector.select(Math.max(1, left / 1_000_000));
                if (out.hasRemaining()) {
                    channel.write(out);
                    if (!out.hasRemaining()) {
                        key.interestOps(SelectionKey.OP_READ);
                    }
                    continue;
                }
                int n = channel.read(in);
                if (n < 0) {
                    throw new UnreachableException("umdevd at " + socket + " closed the connection without a reply");
                }
                in.flip();
                while (in.hasRemaining()) {
                    byte b = in.get();
                    if (b == '\n') {
                        return parse(reply.toString(StandardCharsets.UTF_8));
                    }
                    reply.write(b);
                }
                in.clear();
                if (reply.size() > MAX_REPLY) {
                    throw new UnreachableException("umdevd's reply is larger than " + (MAX_REPLY >> 20) + " MiB");
                }
            }
        } catch (IOException e) {
            throw new UnreachableException("talking to umdevd at " + socket + " failed: " + e.getMessage());
        }
    }

    private JsonNode parse(String line) throws UnreachableException {
        try {
            JsonNode node = Json.parse(line);
            if (!node.isObject() || !node.path("ok").isBoolean()) {
                throw new UnreachableException("umdevd at " + socket + " sent a reply umdevctl does not understand: "
                        + line);
            }
            return node;
        } catch (JsonFieldException e) {
            throw new UnreachableException("umdevd at " + socket + " sent a reply that is not JSON: " + e.getMessage());
        }
    }

    @Override
    public void close() {
        close(channel);
    }
}

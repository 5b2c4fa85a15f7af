package io.umdev.daemon.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.umdev.daemon.EventLog;
import io.umdev.daemon.definition.DefinitionStore;
import io.umdev.daemon.json.Json;
import io.umdev.mdev.MdevBus;
import io.umdev.vfiouser.server.AccessPolicy;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control socket itself: its mode, who may talk to it, and what happens to the socket file. */
class ControlServerTest {
    @TempDir
    Path dir;

    private MdevBus bus;
    private ControlProtocol protocol;
    private Path socket;

    @BeforeEach
    void setUp() throws IOException {
        bus = new MdevBus();
        DefinitionStore store = new DefinitionStore(dir.resolve("definitions"));
        store.create();
        protocol = new ControlProtocol(new DeviceControl(bus, store, new EventLog()));
        socket = dir.resolve("control.sock");
    }

    @AfterEach
    void tearDown() {
        bus.close();
    }

    private static String exchange(SocketChannel channel, String request) throws IOException {
        ByteBuffer out = ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8));
        while (out.hasRemaining()) {
            channel.write(out);
        }
        StringBuilder line = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (channel.read(one.clear()) > 0) {
            if (one.get(0) == '\n') {
                return line.toString();
            }
            line.append((char) one.get(0));
        }
        return line.isEmpty() ? null : line.toString();
    }

    private SocketChannel connect() throws IOException {
        SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(socket));
        return channel;
    }

    @Test
    void servesManyRequestsPerConnectionOnAPrivateSocket() throws Exception {
        try (ControlServer server = ControlServer.start(socket, protocol, AccessPolicy.sameUserOrRoot());
                SocketChannel channel = connect()) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
            assertTrue(Json.parse(exchange(channel, "{\"op\":\"version\"}")).path("ok").asBoolean());
            assertEquals("[]", Json.line(Json.parse(exchange(channel, "{\"op\":\"list\"}")).path("result")));
            assertEquals(server.socketPath(), socket.toAbsolutePath());
        }
        assertFalse(Files.exists(socket), "closing removes the socket file");
    }

    @Test
    void aPeerThePolicyRefusesGetsOneDeniedReplyAndIsHungUpOn() throws Exception {
        try (ControlServer server = ControlServer.start(socket, protocol, peer -> false);
                SocketChannel channel = connect()) {
            JsonNode reply = Json.parse(exchange(channel, "{\"op\":\"version\"}"));
            assertEquals("denied", reply.path("error").path("code").asText(), reply::toString);
            assertTrue(Files.exists(server.socketPath()));
            assertEquals(-1, channel.read(ByteBuffer.allocate(1)), "then hung up on");
        }
    }

    @Test
    void aStaleSocketIsReplacedButALiveOneOrAnotherFileIsNot() throws Exception {
        try (ControlServer first = ControlServer.start(socket, protocol, AccessPolicy.sameUserOrRoot())) {
            FileAlreadyExistsException live = assertThrows(FileAlreadyExistsException.class,
                    () -> ControlServer.start(socket, protocol, AccessPolicy.sameUserOrRoot()));
            assertTrue(live.getMessage().contains("another umdevd"), live.getMessage());
            assertTrue(Files.exists(first.socketPath()), "the live socket is left alone");
        }
        // A socket file nobody listens on, as a killed daemon leaves it.
        try (var stale = java.nio.channels.ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(socket));
        }
        assertTrue(Files.exists(socket));
        try (ControlServer replaced = ControlServer.start(socket, protocol, AccessPolicy.sameUserOrRoot());
                SocketChannel channel = connect()) {
            assertTrue(Json.parse(exchange(channel, "{\"op\":\"version\"}")).path("ok").asBoolean());
            assertEquals(socket.toAbsolutePath(), replaced.socketPath());
        }
        Files.writeString(socket, "not a socket");
        assertThrows(FileAlreadyExistsException.class,
                () -> ControlServer.start(socket, protocol, AccessPolicy.sameUserOrRoot()));
        assertEquals("not a socket", Files.readString(socket), "another file is never removed");
    }
}

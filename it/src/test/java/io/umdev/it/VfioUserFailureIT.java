package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A vfio-user-pci device whose server is missing or broken ends QEMU at once; the fixture reports how, with
 * QEMU's own error: no hang, no guest boot, the reason in the exception and in the logs.
 */
@QemuPeerTest
class VfioUserFailureIT {

    private static final Logger LOG = LoggerFactory.getLogger(VfioUserFailureIT.class);
    /** Far longer than QEMU needs to fail: reaching it would be the hang these tests rule out. */
    private static final Duration GUEST_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration MSG_TIMEOUT = Duration.ofSeconds(1);
    /** Every vfio-user message starts with a 16-byte header. */
    private static final int VFIO_USER_HEADER_BYTES = 16;

    @Test
    void deviceWithoutServerFailsQemuWithItsConnectError(QemuPeer peer, @TempDir Path dir) throws IOException {
        Path socket = dir.resolve("absent.sock");

        GuestRun run = expectQemuFailure(peer.guest("no-server").vfioUserDevice(socket));

        assertTrue(run.qemuError().contains("vfio-user-pci"), run::qemuError);
        assertTrue(run.qemuError().contains("Failed to connect to '" + socket + "'"), run::qemuError);
    }

    @Test
    void socketNobodyListensOnFailsQemuWithConnectionRefused(QemuPeer peer, @TempDir Path dir) throws IOException {
        Path socket = dir.resolve("stale.sock");
        ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(socket)).close(); // the file stays

        GuestRun run = expectQemuFailure(peer.guest("stale-socket").vfioUserDevice(socket));

        assertTrue(run.qemuError().contains("Failed to connect to '" + socket + "'"), run::qemuError);
        assertTrue(run.qemuError().contains("Connection refused"), run::qemuError);
    }

    /**
     * QEMU 11.1.3's client does not fail cleanly here: when the server hangs up after reading the VERSION
     * request, QEMU dies (SIGSEGV, or an assertion in error_setv, depending on timing). The fixture must still
     * report it promptly and say how QEMU ended.
     */
    @Test
    void serverThatHangsUpMidHandshakeEndsQemuWithoutHanging(QemuPeer peer, @TempDir Path dir) throws IOException {
        Path socket = dir.resolve("hangup.sock");
        try (StubServer server = StubServer.hangingUpAfterFirstHeader(socket)) {
            GuestRun run = expectQemuFailure(peer.guest("server-hangs-up").vfioUserDevice(socket));

            assertTrue(server.accepted() >= 1, "QEMU connected to the server");
            LOG.info("QEMU after a mid-handshake hang-up: status {}{}, stderr: {}", run.qemuExitCode().orElseThrow(),
                    run.killedBy().map(signal -> " (" + signal + ")").orElse(""), run.qemuError());
            assertTrue(run.killedBy().isPresent() || run.qemuError().contains("vfio-user:" + socket), run::describe);
        }
    }

    @Test
    void serverThatNeverAnswersFailsQemuAfterTheMessageTimeout(QemuPeer peer, @TempDir Path dir) throws IOException {
        Path socket = dir.resolve("mute.sock");
        try (StubServer server = StubServer.mute(socket)) {
            GuestRun run = expectQemuFailure(peer.guest("server-mute")
                    .vfioUserDevice(VfioUserDevice.at(socket).withMsgTimeout(MSG_TIMEOUT)));

            assertTrue(server.accepted() >= 1, "QEMU connected to the server");
            assertTrue(run.qemuError().contains("vfio-user:" + socket), run::qemuError);
            assertTrue(run.qemuError().contains("timed out waiting for reply"), run::qemuError);
            assertTrue(run.elapsed().compareTo(MSG_TIMEOUT) >= 0, () -> "failed after " + run.elapsed());
        }
    }

    /** Runs the guest expecting QEMU to end with an error before the guest does anything. */
    private static GuestRun expectQemuFailure(QemuGuest guest) throws IOException {
        GuestRunException failure = assertThrows(GuestRunException.class, guest.timeout(GUEST_TIMEOUT)::run);
        GuestRun run = failure.run();

        assertEquals(GuestRun.Outcome.QEMU_EXITED, run.outcome(), failure::getMessage);
        assertTrue(run.qemuExitCode().orElseThrow() != 0, failure::getMessage);
        assertTrue(run.results().lines().isEmpty(), "the guest never ran");
        assertTrue(failure.getMessage().contains("QEMU exited with status " + run.qemuExitCode().orElseThrow()), failure::getMessage);
        run.qemuStderr().forEach(line -> assertTrue(failure.getMessage().contains(line), "the exception carries QEMU's stderr"));
        assertEquals(run.qemuStderr(), Files.readAllLines(run.logDirectory().resolve("qemu-stderr.log")));
        assertTrue(Files.readString(run.logDirectory().resolve("qemu-cmdline.txt")).contains("vfio-user-pci"));
        return run;
    }

    /** A Unix-socket server that accepts QEMU, then hangs up after its first message header or says nothing. */
    private static final class StubServer implements AutoCloseable {

        private final ServerSocketChannel listener;
        private final Thread acceptor;
        private final List<SocketChannel> held = new ArrayList<>();
        private final boolean hangUp;
        private int accepted;

        private StubServer(Path socket, boolean hangUp) throws IOException {
            this.hangUp = hangUp;
            listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(socket));
            acceptor = Thread.ofVirtual().name("vfio-user-stub").start(this::acceptLoop);
        }

        static StubServer hangingUpAfterFirstHeader(Path socket) throws IOException {
            return new StubServer(socket, true);
        }

        static StubServer mute(Path socket) throws IOException {
            return new StubServer(socket, false);
        }

        synchronized int accepted() {
            return accepted;
        }

        private void acceptLoop() {
            try {
                while (true) {
                    SocketChannel client = listener.accept();
                    synchronized (this) {
                        accepted++;
                        held.add(client);
                    }
                    if (hangUp) {
                        ByteBuffer header = ByteBuffer.allocate(VFIO_USER_HEADER_BYTES);
                        while (header.hasRemaining() && client.read(header) >= 0) {
                            // QEMU sends VERSION first; wait for its header
                        }
                        client.close();
                    }
                }
            } catch (IOException closed) {
                // the listener was closed: the test is over
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
            try {
                acceptor.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synchronized (this) {
                for (SocketChannel client : held) {
                    client.close();
                }
            }
        }
    }
}

package io.umdev.vfiouser.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.umdev.linux.EventFd;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.protocol.MessageHeader;
import io.umdev.vfiouser.testing.OpenFiles;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

class MessageChannelTest {
    private static final int MANY_FDS = 200;
    private static final int MESSAGES_PER_ROUND = 8;

    @TempDir
    Path dir;

    /** A connected pair (junixsocket's own socketpair leaks descriptors, so through a listener). */
    private MessageChannel[] pair() throws Exception {
        try (AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open()) {
            listener.bind(AFUNIXSocketAddress.of(dir.resolve("pair.sock")));
            MessageChannel a = MessageChannel.connect(dir.resolve("pair.sock"));
            return new MessageChannel[] {a, MessageChannel.accepted(listener.accept())};
        }
    }

    /** The skipped payload of an oversized message must not overwrite its header (found by FuzzTest). */
    @Test
    void oversizedMessageKeepsItsHeader() throws Exception {
        MessageChannel[] pair = pair();
        try (MessageChannel a = pair[0]; MessageChannel b = pair[1]) {
            int size = 200_000;
            byte[] bytes = new byte[size];
            Arrays.fill(bytes, (byte) 0xff);
            MemorySegment message = MemorySegment.ofArray(bytes);
            MessageHeader.write(message, 7, 10, size, MessageHeader.TYPE_COMMAND, 0);
            MemorySegment small = MemorySegment.ofArray(new byte[MessageHeader.SIZE + 4]);
            MessageHeader.write(small, 8, 9, small.byteSize(), MessageHeader.TYPE_COMMAND, 0);
            Thread sender = Thread.ofPlatform().start(() -> {
                try {
                    a.send(message, List.of());
                    a.send(small, List.of());
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            // A small receive buffer to start with: the skipped payload passes through it many times.
            try (ReceivedMessage m = b.receive(1024)) {
                assertTrue(m.oversized());
                assertEquals(size, m.declaredSize());
                assertEquals(7, m.id());
                assertEquals(10, m.command());
                assertEquals(MessageHeader.TYPE_COMMAND, m.flags());
                assertEquals(0, m.error());
            }
            try (ReceivedMessage m = b.receive(1024)) {
                assertEquals(8, m.id(), "the stream stays in step");
                assertEquals(4, m.payload().byteSize());
            }
            sender.join();
        }
    }

    /**
     * A peer may attach more descriptors than it should (Linux allows 253 per message): all of them
     * arrive, and none is left open once the message is closed (found by FuzzTest).
     */
    @Test
    void manyDescriptorsArriveAndAreClosed() throws Exception {
        MessageChannel[] pair = pair();
        try (MessageChannel a = pair[0]; MessageChannel b = pair[1]; EventFd event = EventFd.create()) {
            MemorySegment message = MemorySegment.ofArray(new byte[MessageHeader.SIZE]);
            MessageHeader.write(message, 1, 4, MessageHeader.SIZE, MessageHeader.TYPE_COMMAND, 0);
            long before = OpenFiles.descriptors();
            for (int n : new int[] {61, 100, 253}) {
                List<OwnedFd> fds = Collections.nCopies(n, event.fd());
                a.send(message, fds);
                try (ReceivedMessage m = b.receive(1024)) {
                    assertEquals(n, m.fds().size());
                }
                assertEquals(before, OpenFiles.descriptors(), n + " descriptors");
            }
        }
    }

    /**
     * Closing a channel while its receiver is releasing the descriptors of a message must not deadlock
     * (junixsocket closes its received descriptors under a lock that releasing one also takes; found with
     * jstack during a fuzz run, where a device thread's failed DMA write closed the channel).
     */
    @Test
    void closeWhileReleasingReceivedDescriptorsDoesNotDeadlock() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.getLong("umdev.deadlock.seconds", 4));
        int rounds = 0;
        while (System.nanoTime() < deadline) {
            rounds++;
            MessageChannel[] pair = pair();
            // b is closed by the closer thread, never here: after a deadlock another close() would hang.
            MessageChannel b = pair[1];
            try (MessageChannel a = pair[0]; EventFd event = EventFd.create()) {
                MemorySegment message = MemorySegment.ofArray(new byte[MessageHeader.SIZE]);
                MessageHeader.write(message, 1, 4, MessageHeader.SIZE, MessageHeader.TYPE_COMMAND, 0);
                List<OwnedFd> fds = Collections.nCopies(MANY_FDS, event.fd());
                for (int i = 0; i < MESSAGES_PER_ROUND; i++) {
                    a.send(message, fds);
                }
                CountDownLatch receiving = new CountDownLatch(1);
                AtomicReference<Throwable> failure = new AtomicReference<>();
                Thread receiver = Thread.ofPlatform().name("receiver").daemon().start(() -> {
                    try {
                        for (int i = 0; i < MESSAGES_PER_ROUND; i++) {
                            receiving.countDown();
                            try (ReceivedMessage m = b.receive(1024)) {
                                assertEquals(MANY_FDS, m.fds().size());
                            }
                        }
                    } catch (IOException e) {
                        // The channel closed under it: what this test provokes.
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                });
                receiving.await();
                // close() on a thread of its own too: in a deadlock it is one of the two stuck.
                Thread closer = Thread.ofPlatform().name("closer").daemon().start(() -> {
                    try {
                        b.close();
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                });
                long joinBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                for (Thread t : List.of(closer, receiver)) {
                    t.join(Duration.ofNanos(Math.max(1, joinBy - System.nanoTime())));
                    if (t.isAlive()) {
                        fail("close() and receive() deadlocked in round " + rounds + ":" + stack(closer) + stack(receiver));
                    }
                }
                if (failure.get() != null) {
                    throw new AssertionError("receiver failed in round " + rounds, failure.get());
                }
            }
        }
    }

    /**
     * Descriptors that arrive with the start of a message the stream then breaks off are closed when the
     * receive fails, not left to the socket's close: a close racing with the receive closes only those
     * junixsocket already held, which leaked the rest (found by FuzzTest).
     */
    @Test
    void descriptorsOfABrokenOffMessageAreClosedAtOnce() throws Exception {
        MessageChannel[] pair = pair();
        MessageChannel a = pair[0];
        try (MessageChannel b = pair[1]; EventFd event = EventFd.create()) {
            long before = OpenFiles.descriptors();
            // Only the header, declaring a payload that never comes; then the peer goes away.
            MemorySegment header = MemorySegment.ofArray(new byte[MessageHeader.SIZE]);
            MessageHeader.write(header, 1, 4, MessageHeader.SIZE + 8, MessageHeader.TYPE_COMMAND, 0);
            a.send(header, Collections.nCopies(MANY_FDS, event.fd()));
            a.close();
            assertThrows(StreamBrokenException.class, () -> b.receive(1024));
            assertEquals(before - 1, OpenFiles.descriptors(), "descriptors left open besides the peer's socket");
        } finally {
            a.close();
        }
    }

    private static String stack(Thread thread) {
        StringBuilder text = new StringBuilder("\n  ").append(thread.getName());
        for (StackTraceElement e : thread.getStackTrace()) {
            text.append("\n    at ").append(e);
        }
        return text.toString();
    }
}

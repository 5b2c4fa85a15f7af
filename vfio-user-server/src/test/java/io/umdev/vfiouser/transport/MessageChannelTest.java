package io.umdev.vfiouser.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.vfiouser.protocol.MessageHeader;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketPair;

class MessageChannelTest {
    /** The skipped payload of an oversized message must not overwrite its header (found by FuzzTest). */
    @Test
    void oversizedMessageKeepsItsHeader() throws Exception {
        AFUNIXSocketPair<AFUNIXSocketChannel> pair = AFUNIXSocketPair.open();
        try (pair; MessageChannel a = MessageChannel.accepted(pair.getSocket1(), 1);
                MessageChannel b = MessageChannel.accepted(pair.getSocket2(), 1)) {
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
}

package io.umdev.vfiouser.server;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.protocol.MessageHeader;
import io.umdev.vfiouser.protocol.VersionPayload;
import io.umdev.vfiouser.transport.MessageChannel;
import io.umdev.vfiouser.transport.ReceivedMessage;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;

/** A peer that speaks raw messages, for saying what a well-behaved client never would. */
final class RawPeer implements AutoCloseable {
    private static final int TIMEOUT_MILLIS = 10_000;
    private static final int MAX_MESSAGE = 2 << 20;

    private final MessageChannel channel;
    private int nextId = 1;

    private RawPeer(MessageChannel channel) {
        this.channel = channel;
    }

    static RawPeer connect(Path socket) throws IOException {
        return new RawPeer(MessageChannel.connect(socket));
    }

    record Received(int id, int command, long size, int flags, int error, byte[] payload) {
    }

    void send(int command, int flags, byte[] payload, List<OwnedFd> fds) throws IOException {
        MemorySegment message = MemorySegment.ofArray(new byte[MessageHeader.SIZE + payload.length]);
        MessageHeader.write(message, nextId++, command, message.byteSize(), flags, 0);
        MemorySegment.copy(MemorySegment.ofArray(payload), 0, message, MessageHeader.SIZE, payload.length);
        channel.send(message, fds);
    }

    /** The next message from the server; fails if none comes in time or the connection closes. */
    Received receive() throws IOException {
        if (!channel.awaitReadable(TIMEOUT_MILLIS)) {
            throw new IOException("no message from the server");
        }
        try (ReceivedMessage m = channel.receiveDetached(MAX_MESSAGE)) {
            if (m == null) {
                throw new IOException("the server closed the connection");
            }
            return new Received(m.id(), m.command(), m.declaredSize(), m.flags(), m.error(),
                    m.payload().toArray(JAVA_BYTE));
        }
    }

    /** True if the server closes the connection (waiting a while). */
    boolean closedByPeer() throws IOException {
        if (!channel.awaitReadable(TIMEOUT_MILLIS)) {
            return false;
        }
        try {
            return channel.receiveDetached(MAX_MESSAGE) == null;
        } catch (IOException e) {
            return true;
        }
    }

    static byte[] version(int major, int minor, String json) {
        VersionPayload v = new VersionPayload(major, minor, json);
        MemorySegment out = MemorySegment.ofArray(new byte[(int) v.encodedSize()]);
        v.encode(out);
        return out.toArray(JAVA_BYTE);
    }

    static byte[] versionWithoutJson() {
        return version(VersionPayload.MAJOR, VersionPayload.MINOR, null);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}

package io.umdev.vhost;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import io.umdev.linux.OwnedFd;
import io.umdev.vhost.protocol.MessageHeader;
import io.umdev.vhost.protocol.Payloads;
import io.umdev.vhost.protocol.ProtocolFeature;
import io.umdev.vhost.protocol.Request;
import io.umdev.virtio.spec.VirtioFeature;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

/** A vhost-user front-end written for the tests: real socket, real descriptors, messages built by hand. */
final class TestFrontend implements AutoCloseable {
    final AFUNIXSocketChannel socket;
    final VhostUserChannel channel;

    TestFrontend(Path path) throws IOException {
        this.socket = AFUNIXSocketChannel.open(AFUNIXSocketAddress.of(path));
        this.channel = new VhostUserChannel(socket);
    }

    /** Sends a request that has a reply of its own and returns the reply's payload (a copy). */
    byte[] get(int request, byte[] payload, OwnedFd... fds) throws IOException {
        channel.send(request, MessageHeader.VERSION, MemorySegment.ofArray(payload), Arrays.asList(fds));
        try (VhostUserChannel.Message reply = channel.receive(true)) {
            if (reply == null || reply.request() != request) {
                throw new IOException("no reply to " + Request.name(request));
            }
            return reply.payload().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
    }

    long getU64(int request) throws IOException {
        byte[] r = get(request, new byte[0]);
        if (r.length != Payloads.U64_SIZE) {
            throw new IOException(Request.name(request) + " answered " + r.length + " bytes");
        }
        return MemorySegment.ofArray(r).get(JAVA_LONG_UNALIGNED, 0);
    }

    /** Sends a request with NEED_REPLY and returns the acknowledgement: 0 for success. */
    long ack(int request, byte[] payload, OwnedFd... fds) throws IOException {
        channel.send(request, MessageHeader.VERSION | MessageHeader.FLAG_NEED_REPLY, MemorySegment.ofArray(payload),
                Arrays.asList(fds));
        try (VhostUserChannel.Message reply = channel.receive(true)) {
            if (reply == null || reply.request() != request || reply.payload().byteSize() != Payloads.U64_SIZE) {
                throw new IOException("no acknowledgement of " + Request.name(request));
            }
            return reply.payload().get(JAVA_LONG_UNALIGNED, 0);
        }
    }

    /** Sends without asking for anything back. */
    void send(int request, byte[] payload, OwnedFd... fds) throws IOException {
        channel.send(request, MessageHeader.VERSION, MemorySegment.ofArray(payload), Arrays.asList(fds));
    }

    /**
     * GET_FEATURES, SET_FEATURES (the offered virtio bits but the ring variants the hand-written split driver
     * does not do, plus PROTOCOL_FEATURES), the protocol features, SET_OWNER.
     */
    long negotiate(long withheld, long extraVhostBits) throws IOException {
        long offered = getU64(Request.GET_FEATURES);
        long simple = VirtioFeature.bits(VirtioFeature.RING_PACKED, VirtioFeature.RING_EVENT_IDX, VirtioFeature.IN_ORDER);
        long wanted = (offered & ~VhostUserSession.VHOST_BITS & ~withheld & ~simple)
                | ProtocolFeature.bit(ProtocolFeature.F_PROTOCOL_FEATURES) | extraVhostBits;
        send(Request.SET_FEATURES, u64(wanted));
        long protocol = getU64(Request.GET_PROTOCOL_FEATURES);
        send(Request.SET_PROTOCOL_FEATURES, u64(protocol));
        long ack = ack(Request.SET_OWNER, new byte[0]);
        if (ack != 0) {
            throw new IOException("SET_OWNER failed: " + ack);
        }
        return wanted;
    }

    static byte[] u64(long value) {
        return bytes(Payloads.U64_SIZE).putLong(value).array();
    }

    static byte[] state(int index, int num) {
        return bytes(Payloads.VRING_STATE_SIZE).putInt(index).putInt(num).array();
    }

    static byte[] addr(int index, int flags, long desc, long used, long avail, long log) {
        return bytes(Payloads.VRING_ADDR_SIZE).putInt(index).putInt(flags).putLong(desc).putLong(used).putLong(avail)
                .putLong(log).array();
    }

    /** A memory table: each region {gpa, size, uva, mmap offset}. */
    static byte[] memory(long[]... regions) {
        ByteBuffer b = bytes(Payloads.MEMORY_HEADER_SIZE + regions.length * Payloads.MEMORY_REGION_SIZE);
        b.putInt(regions.length).putInt(0);
        for (long[] r : regions) {
            for (long v : r) {
                b.putLong(v);
            }
        }
        return b.array();
    }

    static byte[] log(long size, long offset) {
        return bytes(Payloads.LOG_SIZE).putLong(size).putLong(offset).array();
    }

    static byte[] config(int offset, int size, byte[] data) {
        return bytes(Payloads.CONFIG_HEADER_SIZE + data.length).putInt(offset).putInt(size).putInt(0).put(data).array();
    }

    static ByteBuffer bytes(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.nativeOrder());
    }

    static int intAt(byte[] b, long offset) {
        return MemorySegment.ofArray(b).get(JAVA_INT_UNALIGNED, offset);
    }

    boolean isOpen() {
        return channel.isOpen();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}

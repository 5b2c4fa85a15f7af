package io.umdev.vfiouser.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Poll;
import io.umdev.vfiouser.testing.ScratchDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

/** A stream that breaks while the server waits for a DMA reply is dropped, as it is anywhere else. */
class BrokenStreamTest {
    private static final long IOVA = 0x10_0000;

    @TempDir
    Path dir;

    @Test
    void brokenHeaderDuringDmaWaitDropsTheClient() throws Exception {
        try (ScratchDevice device = new ScratchDevice();
                VfioUserServer server = VfioUserServer.start(dir.resolve("b.sock"), device, ServerOptions.defaults());
                AFUNIXSocketChannel ch = AFUNIXSocketChannel.open(AFUNIXSocketAddress.of(server.socketPath()))) {
            int fd = FileDescriptorCast.using(ch.getFileDescriptor()).as(Integer.class);
            byte[] json = "{}\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            send(ch, 1, 1, 0, ByteBuffer.allocate(4 + json.length).order(ByteOrder.nativeOrder()).putInt(0).put(json));
            assertEquals(0, reply(ch, fd, 1).getInt(12));
            // Memory reached by message only, then a copy on the connection's thread: the server asks us.
            send(ch, 2, 2, 0, buffer(32).putInt(32).putInt(3).putLong(0).putLong(IOVA).putLong(4096));
            assertEquals(0, reply(ch, fd, 2).getInt(12));
            long[] registers = {ScratchDevice.REG_SRC, ScratchDevice.REG_DST, ScratchDevice.REG_LEN};
            long[] values = {IOVA, IOVA + 8, 8};
            for (int i = 0; i < 3; i++) {
                send(ch, 3 + i, 10, 0, buffer(24).putLong(registers[i]).putInt(0).putInt(8).putLong(values[i]));
                assertEquals(0, reply(ch, fd, 3 + i).getInt(12));
            }
            send(ch, 6, 10, 0, buffer(24).putLong(ScratchDevice.REG_GO).putInt(0).putInt(8).putLong(ScratchDevice.GO_INLINE));
            ByteBuffer request = read(ch, fd);
            assertEquals(11, Short.toUnsignedInt(request.getShort(2)), "a DMA_READ from the server");
            // Instead of the answer: a header declaring 3 bytes, then a well-formed GET_INFO, in one write (the
            // server may hang up as soon as it reads the header: a second write could then fail with EPIPE).
            ByteBuffer broken = buffer(16 + 32);
            broken.putShort((short) 7).putShort((short) 4).putInt(3).putInt(0).putInt(0);
            broken.putShort((short) 8).putShort((short) 4).putInt(32).putInt(0).putInt(0).putInt(16);
            broken.flip();
            while (broken.hasRemaining()) {
                ch.write(broken);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) {
                ByteBuffer m = read(ch, fd, deadline);
                if (m == null) {
                    break; // hung up on: right
                }
                assertTrue(Short.toUnsignedInt(m.getShort(0)) != 8,
                        "the server went on reading a broken stream and answered the GET_INFO behind it");
            }
            assertTrue(server.awaitNoClient(10, TimeUnit.SECONDS));
        }
    }

    private static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
    }

    private static void send(AFUNIXSocketChannel ch, int id, int command, int flags, ByteBuffer payload) throws IOException {
        payload.flip();
        ByteBuffer m = buffer(16 + payload.remaining());
        m.putShort((short) id).putShort((short) command).putInt(16 + payload.remaining()).putInt(flags).putInt(0).put(payload);
        m.flip();
        while (m.hasRemaining()) {
            ch.write(m);
        }
    }

    private static ByteBuffer reply(AFUNIXSocketChannel ch, int fd, int id) throws IOException {
        ByteBuffer m = read(ch, fd);
        assertEquals(id, Short.toUnsignedInt(m.getShort(0)));
        assertEquals(1, m.getInt(8) & 0xf, "a reply");
        return m;
    }

    private static ByteBuffer read(AFUNIXSocketChannel ch, int fd) throws IOException {
        ByteBuffer m = read(ch, fd, System.nanoTime() + TimeUnit.SECONDS.toNanos(10));
        if (m == null) {
            throw new IOException("the server hung up");
        }
        return m;
    }

    /** One whole message, or null at end of stream; fails on timeout. */
    private static ByteBuffer read(AFUNIXSocketChannel ch, int fd, long deadline) throws IOException {
        ByteBuffer header = buffer(16);
        if (!fill(ch, fd, header, deadline)) {
            return null;
        }
        int size = header.getInt(4);
        ByteBuffer m = buffer(size);
        m.put(header.flip());
        if (!fill(ch, fd, m, deadline)) {
            throw new IOException("stream ended inside a message");
        }
        return m.flip();
    }

    private static boolean fill(AFUNIXSocketChannel ch, int fd, ByteBuffer b, long deadline) throws IOException {
        while (b.hasRemaining()) {
            int left = (int) TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0 || Poll.poll(fd, Poll.POLLIN, left) == 0) {
                throw new IOException("timed out waiting for the server");
            }
            int n;
            try {
                n = ch.read(b);
            } catch (IOException e) {
                return false; // reset by the server
            }
            if (n < 0) {
                return false;
            }
        }
        return true;
    }
}

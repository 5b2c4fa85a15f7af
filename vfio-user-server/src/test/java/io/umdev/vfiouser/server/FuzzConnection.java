package io.umdev.vfiouser.server;

import io.umdev.linux.Errno;
import io.umdev.vfiouser.protocol.Capabilities;
import io.umdev.vfiouser.protocol.ProtocolException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * One raw connection of the fuzzer. It sends bytes exactly as given, header included, with any
 * descriptors; a thread of its own reads and checks everything the server sends, so the server never
 * blocks on a full socket, and answers the server's DMA requests (mostly correctly) from a third
 * thread, so the reader never waits for the send lock.
 *
 * <p>Every message from the server must be either a reply (type REPLY, flags REPLY or REPLY|ERROR; an
 * error reply header-only with a positive errno and no descriptors) or a DMA_READ/DMA_WRITE request.
 * While the stream is in step ("in sync": every byte sent so far framed as the header said), replies
 * must also come back exactly in the order of the commands that want one — so nothing may answer a
 * NO_REPLY command or a reply — and a successful reply must have the shape of its command.
 */
final class FuzzConnection implements AutoCloseable {
    static final int HEADER = 16;
    static final int TYPE_MASK = 0xf;
    static final int TYPE_REPLY = 0x1;
    static final int NO_REPLY = 0x10;
    static final int ERROR = 0x20;
    static final int DMA_READ = 11;
    static final int DMA_WRITE = 12;
    /** More than the server may ever send: one data transfer plus headers. */
    private static final int MAX_SERVER_MESSAGE = (1 << 20) + 4096;
    private static final long SYNC_TIMEOUT_SECONDS = 10;
    private static final byte[] STOP = new byte[0];

    /**
     * A command sent in sync that wants a reply, in the order sent.
     *
     * @param limit for VERSION the request's size (the reply must not be larger); for REGION_READ the
     *     count asked for; else -1
     * @param mustSucceed a well-formed command that the device always accepts
     */
    record Expectation(int id, int command, boolean sync, boolean mustSucceed, long limit, Object what) {
    }

    private final AFUNIXSocketChannel channel;
    private final FuzzStats stats;
    private final SplittableRandom random;
    private final String label;
    private final int clientMaxFds;
    private final long clientMaxXfer;
    private final ReentrantLock sendLock = new ReentrantLock();
    private final ConcurrentLinkedQueue<Expectation> expected = new ConcurrentLinkedQueue<>();
    private final LinkedBlockingQueue<byte[]> answers = new LinkedBlockingQueue<>();
    private final Semaphore syncs = new Semaphore(0);
    private final Thread reader;
    private final Thread answerer;
    private volatile boolean inSync;
    private volatile boolean closing;
    private volatile boolean readerDone;
    private volatile boolean serverHungUp;
    private volatile Capabilities serverCapabilities;

    private FuzzConnection(AFUNIXSocketChannel channel, FuzzStats stats, SplittableRandom random, String label,
            boolean inSync, int clientMaxFds, long clientMaxXfer) {
        this.channel = channel;
        this.stats = stats;
        this.random = random;
        this.label = label;
        this.inSync = inSync;
        this.clientMaxFds = clientMaxFds;
        this.clientMaxXfer = clientMaxXfer;
        this.reader = Thread.ofPlatform().name("fuzz-reader " + label).daemon(true).unstarted(this::readLoop);
        this.answerer = Thread.ofPlatform().name("fuzz-answer " + label).daemon(true).unstarted(this::answerLoop);
    }

    /**
     * Connects. {@code clientMaxFds} and {@code clientMaxXfer} are what this client is about to announce
     * (the server must stay within them); {@code inSync} false for a connection whose stream is broken
     * on purpose from the start.
     */
    static FuzzConnection open(Path socket, FuzzStats stats, SplittableRandom random, String label, boolean inSync,
            int clientMaxFds, long clientMaxXfer) throws IOException {
        AFUNIXSocketChannel channel = AFUNIXSocketChannel.open(AFUNIXSocketAddress.of(socket));
        try {
            channel.configureBlocking(true);
            channel.ensureAncillaryReceiveBufferSize(1024);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        FuzzConnection c = new FuzzConnection(channel, stats, random, label, inSync, clientMaxFds, clientMaxXfer);
        c.reader.start();
        c.answerer.start();
        return c;
    }

    boolean inSync() {
        return inSync;
    }

    /** From now on the stream is not trusted to be in step: only the per-message rules are checked. */
    void desync() {
        inSync = false;
        expected.clear();
    }

    /** True once the server hung up (or the connection failed). */
    boolean gone() {
        return readerDone;
    }

    boolean serverHungUp() {
        return serverHungUp;
    }

    /** The capabilities of the server's VERSION reply, once read. */
    Capabilities serverCapabilities() {
        return serverCapabilities;
    }

    /**
     * Sends one message (or any bytes), queueing {@code expect} first when the stream is in sync. False
     * if the connection is gone.
     */
    boolean send(byte[] message, FileDescriptor[] fds, Expectation expect) {
        if (expect != null && inSync) {
            expected.add(expect);
        }
        return write(message, fds);
    }

    private boolean write(byte[] message, FileDescriptor[] fds) {
        sendLock.lock();
        try {
            if (fds.length > 0) {
                channel.setOutboundFileDescriptors(fds);
            }
            ByteBuffer buffer = ByteBuffer.wrap(message);
            try {
                channel.write(buffer);
            } finally {
                if (fds.length > 0) {
                    channel.setOutboundFileDescriptors((FileDescriptor[]) null);
                }
            }
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            return true;
        } catch (IOException e) {
            return false;
        } finally {
            sendLock.unlock();
        }
    }

    /**
     * Waits for the reply to the sync probe just sent: true when it came (so every reply due before it
     * came too), false if the connection went away. A server that stays silent fails the run.
     */
    boolean awaitSync(String context) throws InterruptedException {
        if (!syncs.tryAcquire(SYNC_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            stats.fail(label + ": no reply to the sync probe within " + SYNC_TIMEOUT_SECONDS + " s after " + context);
            return false;
        }
        if (readerDone) {
            return false;
        }
        if (!expected.isEmpty()) {
            stats.fail(label + ": replies still missing after the sync reply: " + expected);
        }
        return true;
    }

    private void readLoop() {
        ByteBuffer header = ByteBuffer.allocateDirect(HEADER).order(ByteOrder.nativeOrder());
        try {
            while (true) {
                header.clear();
                if (!readFully(header, true)) {
                    hungUp("end of stream");
                    return;
                }
                int id = Short.toUnsignedInt(header.getShort(0));
                int command = Short.toUnsignedInt(header.getShort(2));
                long size = Integer.toUnsignedLong(header.getInt(4));
                int flags = header.getInt(8);
                int error = header.getInt(12);
                if (size < HEADER || size > MAX_SERVER_MESSAGE) {
                    stats.fail(label + ": server sent a header declaring " + size + " bytes (command " + command + ")");
                    return;
                }
                ByteBuffer payload = ByteBuffer.allocate((int) size - HEADER).order(ByteOrder.nativeOrder());
                if (!readFully(payload, false)) {
                    return;
                }
                int fds = closeReceivedFds();
                payload.flip();
                onMessage(id, command, size, flags, error, payload, fds);
            }
        } catch (ClosedChannelException e) {
            if (!closing) {
                hungUp(e.toString());
            }
        } catch (IOException e) {
            hungUp(e.getMessage());
        } catch (RuntimeException e) {
            stats.fail(label + ": reader failed: " + e);
        } finally {
            readerDone = true;
            syncs.release();
            try {
                closeReceivedFds();
            } catch (IOException e) {
                // the socket is closed; junixsocket closes what it still holds
            }
        }
    }

    private void hungUp(String how) {
        if (closing) {
            return;
        }
        serverHungUp = true;
        stats.serverDrops.increment();
        if (inSync) {
            stats.fail(label + ": the server dropped a connection whose stream was in sync (" + how + ")");
        }
    }

    /** Fills the buffer; false on end of stream before the first byte when allowed, else an error. */
    private boolean readFully(ByteBuffer buffer, boolean eofAllowed) throws IOException {
        boolean any = false;
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer);
            if (n < 0) {
                if (!any && eofAllowed) {
                    return false;
                }
                if (!closing) {
                    stats.fail(label + ": the server's stream ended inside a message");
                }
                return false;
            }
            any |= n > 0;
        }
        return true;
    }

    private int closeReceivedFds() throws IOException {
        FileDescriptor[] fds = channel.getReceivedFileDescriptors();
        if (fds == null) {
            return 0;
        }
        for (FileDescriptor fd : fds) {
            if (fd.valid()) {
                // The server only ever sends its device's own descriptors: BAR1's memfd and doorbell eventfds.
                int number = FileDescriptorCast.using(fd).as(Integer.class);
                String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + number)).toString();
                if (!target.startsWith("/memfd:scratch-bar1") && !target.equals("anon_inode:[eventfd]")) {
                    stats.fail(label + ": the server sent a descriptor that is not its device's: " + target);
                }
                new FileInputStream(fd).close();
            }
        }
        stats.fdsReceived.add(fds.length);
        return fds.length;
    }

    private void onMessage(int id, int command, long size, int flags, int error, ByteBuffer payload, int fds) {
        if ((flags & TYPE_MASK) == TYPE_REPLY) {
            onReply(id, command, size, flags, error, payload, fds);
        } else if (flags == 0 && (command == DMA_READ || command == DMA_WRITE)) {
            onDmaRequest(id, command, error, payload, fds);
        } else {
            stats.fail(String.format("%s: server sent id %d command %d flags 0x%x: neither a reply nor a DMA request",
                    label, id, command, flags));
        }
    }

    private void onReply(int id, int command, long size, int flags, int error, ByteBuffer payload, int fds) {
        String what = String.format("%s: reply id %d command %d flags 0x%x size %d", label, id, command, flags, size);
        boolean isError = (flags & ERROR) != 0;
        if (flags != TYPE_REPLY && flags != (TYPE_REPLY | ERROR)) {
            stats.fail(what + ": reply flags other than REPLY or REPLY|ERROR");
        }
        if (isError) {
            stats.error(error);
            if (size != HEADER) {
                stats.fail(what + ": an error reply must be header-only");
            }
            if (error <= 0 || error >= 4096) {
                stats.fail(what + ": error reply with errno " + error);
            }
            if (fds != 0) {
                stats.fail(what + ": error reply carries " + fds + " descriptors");
            }
        } else {
            stats.repliesOk.increment();
            if (error != 0) {
                stats.fail(what + ": successful reply with error field " + error);
            }
        }
        // Poll first, then look at inSync: desync() clears the queue after clearing inSync, so a poll that
        // found the queue emptied by it is always followed by seeing inSync false.
        Expectation e = expected.poll();
        if (!inSync) {
            return;
        }
        if (e == null) {
            stats.fail(what + ": no command in flight wanted a reply (was a NO_REPLY command or a reply answered?)");
            return;
        }
        try {
            if (e.id() != id || e.command() != command) {
                stats.fail(what + ": expected the reply to " + e);
                return;
            }
            stats.checkedReplies.increment();
            if (isError) {
                if (e.mustSucceed()) {
                    stats.fail(what + ": " + Errno.name(error) + " for a command that must succeed: " + e);
                }
            } else {
                checkShape(what, e, payload, fds);
            }
        } finally {
            if (e.sync()) {
                syncs.release();
            }
        }
    }

    /** The payload a successful reply to each command must have. */
    private void checkShape(String what, Expectation e, ByteBuffer payload, int fds) {
        int n = payload.remaining();
        int command = e.command();
        if (fds > 0 && command != 5 && command != 6) {
            stats.fail(what + ": carries " + fds + " descriptors");
        }
        if (fds > clientMaxFds) {
            stats.fail(what + ": carries " + fds + " descriptors, more than the client accepts (" + clientMaxFds + ")");
        }
        boolean ok = switch (command) {
            case 1 -> "version".equals(e.what()) && checkVersion(what, e, payload);
            case 2, 8, 13, 18 -> n == 0;
            case 3 -> n == 24;
            case 4 -> n == 16 && payload.getInt(8) == 9 && payload.getInt(12) == 5;
            case 5 -> n >= 32 && Integer.toUnsignedLong(payload.getInt(0)) >= 32 && fds <= 1;
            case 6 -> n >= 16;
            case 7 -> n == 16;
            case 9 -> n == 16 + e.limit() || e.limit() < 0 && n >= 16;
            case 10 -> n == 16;
            case 15 -> n == 8;
            case 16, 17 -> n >= 8;
            default -> false;
        };
        if (!ok) {
            stats.fail(what + ": a successful reply of this shape (" + n + " payload bytes) is wrong for " + e);
        }
    }

    private boolean checkVersion(String what, Expectation e, ByteBuffer payload) {
        int n = payload.remaining();
        if (n < 4 || payload.getShort(0) != 0 || payload.getShort(2) != 0) {
            stats.fail(what + ": VERSION reply is not version 0.0");
            return true;
        }
        if (HEADER + n > e.limit()) {
            stats.fail(what + ": VERSION reply is larger than the request (" + e.limit() + " bytes)");
        }
        String json = null;
        if (n > 4) {
            if (payload.get(n - 1) != 0) {
                stats.fail(what + ": VERSION reply JSON is not NUL-terminated");
                return true;
            }
            byte[] text = new byte[n - 5];
            payload.get(4, text);
            json = new String(text, StandardCharsets.UTF_8);
        }
        try {
            Capabilities caps = Capabilities.parse(json);
            if (caps.maxMsgFds() > 16 || caps.maxDataXferSize() > (64 << 20) || caps.pgsizes() % 4096 != 0) {
                stats.fail(what + ": server announces limits QEMU refuses: " + json);
            }
            serverCapabilities = caps;
        } catch (ProtocolException ex) {
            stats.fail(what + ": VERSION reply capabilities do not parse: " + ex.getMessage());
        }
        return true;
    }

    private void onDmaRequest(int id, int command, int error, ByteBuffer payload, int fds) {
        stats.dmaRequests.increment();
        String what = String.format("%s: server request id %d command %d", label, id, command);
        if (error != 0 || fds != 0) {
            stats.fail(what + ": error field " + error + ", " + fds + " descriptors");
        }
        if (payload.remaining() < 16) {
            stats.fail(what + ": payload of " + payload.remaining() + " bytes");
            return;
        }
        long address = payload.getLong(0);
        long count = payload.getLong(8);
        if (count <= 0 || count > clientMaxXfer) {
            stats.fail(what + ": count " + count + " outside 1.." + clientMaxXfer);
            return;
        }
        long expectedPayload = command == DMA_READ ? 16 : 16 + count;
        if (payload.remaining() != expectedPayload) {
            stats.fail(what + ": payload of " + payload.remaining() + " bytes for count " + count);
            return;
        }
        byte[] answer = dmaAnswer(id, command, address, count);
        if (answer != null) {
            answers.add(answer);
            if (random.nextInt(50) == 0) {
                answers.add(answer.clone());
            }
        }
    }

    /** Mostly the right answer; sometimes none, an error, a wrong id, odd flags or a wrong length. */
    private byte[] dmaAnswer(int id, int command, long address, long count) {
        int roll = random.nextInt(100);
        if (roll < 2) {
            return null;
        }
        int replyId = roll < 5 ? random.nextInt(0x10000) : id;
        int flags = TYPE_REPLY;
        if (roll >= 5 && roll < 8) {
            flags |= new int[] {NO_REPLY, 0x100, 0x8000_0000, NO_REPLY | 0x40}[random.nextInt(4)];
        }
        if (roll >= 8 && roll < 13) {
            int errno = new int[] {Errno.EFAULT, Errno.EIO, 0, 99999, -1}[random.nextInt(5)];
            return message(replyId, command, flags | ERROR, errno, new byte[0]);
        }
        long length = command == DMA_READ ? 16 + count : 16;
        if (roll >= 13 && roll < 17) {
            length = Math.max(0, length + random.nextInt(-17, 18));
        }
        ByteBuffer p = ByteBuffer.allocate((int) length).order(ByteOrder.nativeOrder());
        if (length >= 16) {
            p.putLong(0, address).putLong(8, count);
        }
        for (int i = 16; i < length; i += 61) {
            p.put(i, (byte) i);
        }
        return message(replyId, command, flags, 0, p.array());
    }

    static byte[] message(int id, int command, int flags, int error, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(HEADER + payload.length).order(ByteOrder.nativeOrder());
        b.putShort((short) id).putShort((short) command).putInt(HEADER + payload.length).putInt(flags).putInt(error);
        b.put(payload);
        return b.array();
    }

    private void answerLoop() {
        try {
            while (true) {
                byte[] answer = answers.take();
                if (answer == STOP || !write(answer, new FileDescriptor[0])) {
                    return;
                }
                stats.dmaAnswers.increment();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Hangs up and waits for the threads. */
    @Override
    public void close() {
        closing = true;
        // Wake the reader with end-of-stream and let it finish before closing: junixsocket closes the
        // descriptors it received when the channel closes, and doing that while the reader closes the same
        // ones would close numbers twice (the second time, someone else's).
        try {
            channel.shutdownInput();
        } catch (IOException e) {
            // already shut down by the peer
        }
        answers.add(STOP);
        join(reader);
        join(answerer);
        try {
            channel.close();
        } catch (IOException e) {
            stats.fail(label + ": closing the socket: " + e);
        }
    }

    private void join(Thread t) {
        try {
            t.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (t.isAlive()) {
            stats.fail(label + ": " + t.getName() + " did not end");
        }
    }
}

package io.umdev.vfiouser.server;

import io.umdev.linux.Errno;
import io.umdev.vfiouser.dma.DmaException;
import io.umdev.vfiouser.dma.DmaMessenger;
import io.umdev.vfiouser.protocol.Capabilities;
import io.umdev.vfiouser.protocol.Command;
import io.umdev.vfiouser.protocol.DmaAccessPayload;
import io.umdev.vfiouser.protocol.MessageHeader;
import io.umdev.vfiouser.protocol.ProtocolException;
import io.umdev.vfiouser.protocol.VersionPayload;
import io.umdev.vfiouser.transport.MessageChannel;
import io.umdev.vfiouser.transport.PeerCredentials;
import io.umdev.vfiouser.transport.ReceivedMessage;
import io.umdev.vfiouser.transport.StreamBrokenException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client of one device, served by one thread: VERSION negotiation, then commands in the order
 * they arrive, each answered unless it asked for no reply. The same socket carries the server's own
 * DMA_READ/DMA_WRITE requests; their replies are picked out of the incoming stream by message id, and
 * while this thread itself waits for one it keeps reading, setting client commands aside until the
 * current one is done. When the client goes, the device is reset, its IRQ eventfds dropped and its
 * memory unmapped.
 */
final class Session implements ClientSession, DmaMessenger, Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(Session.class);
    /** Commands set aside while this thread waits for a DMA reply; more means a misbehaving client. */
    private static final int MAX_DEFERRED = 1024;
    private static final int MESSAGE_ID_MASK = 0xffff;

    private final String name;
    private final MessageChannel channel;
    private final PeerCredentials peer;
    private final VfioUserDevice device;
    private final ServerOptions options;
    private final int maxMessageSize;
    private final MemorySegment tx;
    private final ArrayDeque<ReceivedMessage> deferred = new ArrayDeque<>();
    private final Map<Integer, CompletableFuture<ReceivedMessage>> pendingDma = new ConcurrentHashMap<>();
    private final AtomicInteger nextDmaId = new AtomicInteger();
    private final CountDownLatch ended = new CountDownLatch(1);
    private volatile Thread thread;
    private volatile boolean open;
    private volatile boolean closing;
    private Capabilities clientCapabilities = Capabilities.SPEC_DEFAULTS;
    private CommandHandler handler;

    Session(String name, MessageChannel channel, PeerCredentials peer, VfioUserDevice device, ServerOptions options) {
        this.name = name;
        this.channel = channel;
        this.peer = peer;
        this.device = device;
        this.options = options;
        this.maxMessageSize = options.maxMessageSize();
        this.tx = MemorySegment.ofBuffer(ByteBuffer.allocateDirect(maxMessageSize).order(ByteOrder.nativeOrder()));
    }

    void start() {
        Thread t = Thread.ofPlatform().name("vfio-user:" + name).daemon(true).unstarted(this);
        thread = t;
        t.start();
    }

    @Override
    public PeerCredentials peer() {
        return peer;
    }

    @Override
    public Capabilities clientCapabilities() {
        return clientCapabilities;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    /** True from the moment the client is gone until teardown has finished. */
    boolean isClosing() {
        return closing;
    }

    boolean awaitEnd(long timeout, TimeUnit unit) throws InterruptedException {
        return ended.await(timeout, unit);
    }

    /** True if the session has ended (waiting up to {@code millis}). */
    boolean awaitEndQuietly(long millis) {
        try {
            return ended.await(millis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return ended.getCount() == 0;
        }
    }

    /** Ends the session from outside (server shutdown): the receiving thread wakes with an error. */
    void disconnect() {
        closing = true;
        try {
            channel.close();
        } catch (IOException e) {
            LOG.debug("{}: closing the socket: {}", name, e.getMessage());
        }
    }

    @Override
    public void run() {
        boolean attached = false;
        try {
            long versionReply = negotiate();
            if (versionReply < 0) {
                return;
            }
            // The device is attached before the client hears that it may go on.
            open = true;
            device.dma().setMessenger(this);
            device.connected(this);
            attached = true;
            if (versionReply > 0) {
                channel.send(tx.asSlice(0, versionReply), List.of());
            }
            LOG.info("{}: client pid {} (uid {}) connected", name, peer.pid(), peer.uid());
            while (true) {
                ReceivedMessage message = next();
                if (message == null) {
                    LOG.info("{}: client pid {} disconnected", name, peer.pid());
                    break;
                }
                try (message) {
                    if (message.isReply()) {
                        routeReply(message);
                    } else {
                        serve(message);
                    }
                }
            }
        } catch (StreamBrokenException e) {
            LOG.warn("{}: dropping client pid {}: {}", name, peer.pid(), e.getMessage());
        } catch (IOException e) {
            if (!closing) {
                LOG.info("{}: connection to client pid {} lost: {}", name, peer.pid(), e.getMessage());
            }
        } catch (RuntimeException e) {
            LOG.error("{}: unexpected failure serving client pid {}; dropping it", name, peer.pid(), e);
        } finally {
            teardown(attached);
        }
    }

    /** The next message: commands set aside earlier first, then the socket. */
    private ReceivedMessage next() throws IOException {
        ReceivedMessage m = deferred.poll();
        return m != null ? m : channel.receive(maxMessageSize);
    }

    /**
     * Reads and checks the client's VERSION and prepares the reply in the send buffer. Returns the
     * reply's size (0 if the client asked for none), or -1 if the client was refused.
     */
    private long negotiate() throws IOException {
        if (!channel.awaitReadable((int) options.negotiationTimeout().toMillis())) {
            LOG.warn("{}: client pid {} sent no VERSION within {}; closing", name, peer.pid(), options.negotiationTimeout());
            return -1;
        }
        try (ReceivedMessage m = channel.receive(maxMessageSize)) {
            if (m == null) {
                return -1;
            }
            boolean wantsReply = (m.flags() & MessageHeader.NO_REPLY) == 0;
            try {
                if (m.isReply() || m.command() != Command.VERSION.code()) {
                    throw ProtocolException.invalid("the first message must be VERSION, not command %d", m.command());
                }
                if (m.oversized() || !m.fds().isEmpty()) {
                    throw ProtocolException.invalid("VERSION is oversized or carries file descriptors");
                }
                VersionPayload version = VersionPayload.decode(m.payload());
                if (version.major() != VersionPayload.MAJOR) {
                    throw ProtocolException.invalid("protocol major version %d is not supported (only %d)",
                            version.major(), VersionPayload.MAJOR);
                }
                clientCapabilities = Capabilities.parse(version.capabilities());
                Capabilities ours = new Capabilities(options.maxMsgFds(), options.maxDataXferSize(),
                        io.umdev.vfiouser.dma.DmaTable.PAGE_SIZE, device.dma().maxMappings(), true);
                // The reply must fit what the client sent: QEMU sizes its reply buffer by its request.
                long room = m.declaredSize() - MessageHeader.SIZE - VersionPayload.LAYOUT.byteSize();
                String json = ours.toJson(room, clientCapabilities.writeMultiple());
                handler = new CommandHandler(device, options, clientCapabilities,
                        clientCapabilities.writeMultiple());
                VersionPayload reply = new VersionPayload(VersionPayload.MAJOR,
                        Math.min(version.minor(), VersionPayload.MINOR), json);
                long size = MessageHeader.SIZE + reply.encode(tx.asSlice(MessageHeader.SIZE));
                MessageHeader.write(tx, m.id(), m.command(), size, MessageHeader.TYPE_REPLY, 0);
                LOG.debug("{}: negotiated with client pid {}: client {}, server {}", name, peer.pid(),
                        clientCapabilities, json);
                return wantsReply ? size : 0;
            } catch (ProtocolException e) {
                LOG.warn("{}: refusing client pid {}: {}", name, peer.pid(), e.getMessage());
                if (wantsReply) {
                    sendError(m.id(), m.command(), e.errno());
                }
                return -1;
            }
        }
    }

    /** Executes one client command and answers it unless it asked for no reply. */
    private void serve(ReceivedMessage m) throws IOException {
        int flags = m.flags();
        boolean wantsReply = (flags & MessageHeader.NO_REPLY) == 0;
        Command command = Command.of(m.command());
        long length;
        try {
            if ((flags & ~MessageHeader.KNOWN_FLAGS) != 0 || (flags & MessageHeader.ERROR) != 0
                    || (flags & MessageHeader.TYPE_MASK) != MessageHeader.TYPE_COMMAND) {
                throw ProtocolException.invalid("command %d has invalid flags 0x%x", m.command(), flags);
            }
            if (m.oversized()) {
                throw new ProtocolException(Errno.E2BIG, String.format(
                        "message of %d bytes exceeds the %d accepted", m.declaredSize(), maxMessageSize));
            }
            if (command == null) {
                throw new ProtocolException(Errno.ENOSYS, "unknown command " + m.command());
            }
            length = handler.handle(command, m, tx.asSlice(MessageHeader.SIZE));
        } catch (ProtocolException e) {
            // Descriptors the command did not keep are closed before the client hears back.
            m.close();
            LOG.debug("{}: command {} (id {}) failed: {} ({})", name, m.command(), m.id(), e.getMessage(),
                    Errno.name(e.errno()));
            if (wantsReply) {
                sendError(m.id(), m.command(), e.errno());
            } else {
                LOG.warn("{}: posted command {} failed: {}", name, command != null ? command : m.command(),
                        e.getMessage());
            }
            return;
        } catch (RuntimeException e) {
            m.close();
            LOG.error("{}: device failed handling command {}", name, command, e);
            if (wantsReply) {
                sendError(m.id(), m.command(), Errno.EIO);
            }
            return;
        }
        m.close();
        if (wantsReply) {
            sendReply(m.id(), m.command(), length, handler.replyFds());
        }
    }

    private void sendReply(int id, int command, long payloadLength, List<io.umdev.linux.OwnedFd> fds) throws IOException {
        long size = MessageHeader.SIZE + payloadLength;
        MessageHeader.write(tx, id, command, size, MessageHeader.TYPE_REPLY, 0);
        channel.send(tx.asSlice(0, size), fds);
    }

    private void sendError(int id, int command, int errno) throws IOException {
        MessageHeader.write(tx, id, command, MessageHeader.SIZE, MessageHeader.TYPE_REPLY | MessageHeader.ERROR, errno);
        channel.send(tx.asSlice(0, MessageHeader.SIZE), List.of());
    }

    private void routeReply(ReceivedMessage m) {
        CompletableFuture<ReceivedMessage> waiter = pendingDma.remove(m.id());
        if (waiter == null) {
            LOG.warn("{}: client pid {} sent a reply (id {}, command {}) to nothing we asked", name, peer.pid(),
                    m.id(), m.command());
            return;
        }
        waiter.complete(m.detach());
    }

    @Override
    public void dmaRead(long iova, MemorySegment dst) throws DmaException {
        long chunkMax = maxDmaChunk();
        for (long done = 0; done < dst.byteSize(); done += chunkMax) {
            long n = Math.min(chunkMax, dst.byteSize() - done);
            try (ReceivedMessage reply = dmaRequest(Command.DMA_READ, iova + done, n, null)) {
                MemorySegment payload = reply.payload();
                if (payload.byteSize() != DmaAccessPayload.DATA_OFFSET + n) {
                    throw new DmaException(Errno.EIO, "DMA_READ reply of " + payload.byteSize() + " bytes for " + n);
                }
                MemorySegment.copy(payload, DmaAccessPayload.DATA_OFFSET, dst, done, n);
            }
        }
    }

    @Override
    public void dmaWrite(long iova, MemorySegment src) throws DmaException {
        long chunkMax = maxDmaChunk();
        for (long done = 0; done < src.byteSize(); done += chunkMax) {
            long n = Math.min(chunkMax, src.byteSize() - done);
            try (ReceivedMessage reply = dmaRequest(Command.DMA_WRITE, iova + done, n, src.asSlice(done, n))) {
                if (reply.payload().byteSize() < DmaAccessPayload.MIN_WRITE_REPLY) {
                    throw new DmaException(Errno.EIO, "short DMA_WRITE reply");
                }
            }
        }
    }

    /** The largest transfer per message: what the client accepts, and a reply we accept. */
    private long maxDmaChunk() {
        return Math.min(clientCapabilities.maxDataXferSize(), options.maxDataXferSize());
    }

    /** Sends one DMA request and waits for its reply, which must not be an error. */
    private ReceivedMessage dmaRequest(Command command, long iova, long count, MemorySegment data) throws DmaException {
        if (!open) {
            throw new DmaException(Errno.ENOTCONN, "the client is not connected");
        }
        int id = nextDmaId.getAndIncrement() & MESSAGE_ID_MASK;
        CompletableFuture<ReceivedMessage> reply = new CompletableFuture<>();
        if (pendingDma.putIfAbsent(id, reply) != null) {
            throw new DmaException(Errno.EBUSY, "too many DMA requests in flight");
        }
        long payload = DmaAccessPayload.DATA_OFFSET + (data == null ? 0 : data.byteSize());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment message = arena.allocate(MessageHeader.SIZE + payload);
            MessageHeader.write(message, id, command.code(), message.byteSize(), MessageHeader.TYPE_COMMAND, 0);
            MemorySegment body = message.asSlice(MessageHeader.SIZE);
            DmaAccessPayload.encodeHead(body, iova, count);
            if (data != null) {
                MemorySegment.copy(data, 0, body, DmaAccessPayload.DATA_OFFSET, data.byteSize());
            }
            channel.send(message, List.of());
            ReceivedMessage m = Thread.currentThread() == thread ? pumpUntil(reply) : await(reply);
            if ((m.flags() & MessageHeader.ERROR) != 0) {
                int errno = m.error() != 0 ? m.error() : Errno.EIO;
                m.close();
                throw new DmaException(errno, String.format("client refused %s of [0x%x, +%d): %s", command, iova,
                        count, Errno.name(errno)));
            }
            return m;
        } catch (StreamBrokenException e) {
            // Read while waiting (pumpUntil): the stream is out of step, so drop the client as the receive
            // loop would, and run none of the commands set aside from it.
            LOG.warn("{}: dropping client pid {}: {}", name, peer.pid(), e.getMessage());
            deferred.forEach(ReceivedMessage::close);
            deferred.clear();
            disconnect();
            throw new DmaException(Errno.ENOTCONN, command + " could not reach the client: " + e.getMessage());
        } catch (IOException e) {
            throw new DmaException(Errno.ENOTCONN, command + " could not reach the client: " + e.getMessage());
        } finally {
            pendingDma.remove(id);
        }
    }

    private ReceivedMessage await(CompletableFuture<ReceivedMessage> reply) throws DmaException {
        try {
            return reply.get(options.dmaReplyTimeout().toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new DmaException(Errno.ETIMEDOUT, "the client did not answer a DMA request in "
                    + options.dmaReplyTimeout());
        } catch (ExecutionException e) {
            throw new DmaException(Errno.ENOTCONN, "the client went away during a DMA request");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DmaException(Errno.EINTR, "interrupted waiting for a DMA reply");
        }
    }

    /**
     * Waiting on this session's own thread (a command handler doing message DMA): read on, route
     * replies, and set client commands aside for after the current one.
     */
    private ReceivedMessage pumpUntil(CompletableFuture<ReceivedMessage> reply) throws IOException, DmaException {
        long deadline = System.nanoTime() + options.dmaReplyTimeout().toNanos();
        while (!reply.isDone()) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !channel.awaitReadable((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)))) {
                if (System.nanoTime() - deadline >= 0) {
                    throw new DmaException(Errno.ETIMEDOUT, "the client did not answer a DMA request in "
                            + options.dmaReplyTimeout());
                }
                continue;
            }
            ReceivedMessage m = channel.receiveDetached(maxMessageSize);
            if (m == null) {
                throw new DmaException(Errno.ENOTCONN, "the client disconnected during a DMA request");
            }
            if (m.isReply()) {
                try (m) {
                    routeReply(m);
                }
            } else if (deferred.size() >= MAX_DEFERRED) {
                m.close();
                throw new StreamBrokenException("client sent over " + MAX_DEFERRED + " commands during one DMA request");
            } else {
                deferred.add(m);
            }
        }
        return reply.join();
    }

    private void teardown(boolean attached) {
        closing = true;
        open = false;
        pendingDma.values().forEach(f -> f.completeExceptionally(new IOException("client disconnected")));
        pendingDma.clear();
        if (attached) {
            device.dma().setMessenger(null);
            try {
                device.disconnected(this);
            } catch (RuntimeException e) {
                LOG.error("{}: device failed handling the disconnect", name, e);
            }
            try {
                int errno = device.reset();
                if (errno != Errno.OK) {
                    LOG.warn("{}: device reset after disconnect failed: {}", name, Errno.name(errno));
                }
            } catch (RuntimeException e) {
                LOG.error("{}: device reset after disconnect failed", name, e);
            }
            for (int i = 0; i < device.info().numIrqs(); i++) {
                device.irq(i).reset();
            }
            device.dma().unmapAll();
        }
        deferred.forEach(ReceivedMessage::close);
        deferred.clear();
        try {
            channel.close();
        } catch (IOException e) {
            LOG.debug("{}: closing the socket: {}", name, e.getMessage());
        }
        ended.countDown();
    }
}

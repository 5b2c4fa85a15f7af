package io.umdev.vfiouser.client;

import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.protocol.Capabilities;
import io.umdev.vfiouser.protocol.Command;
import io.umdev.vfiouser.protocol.DeviceFeaturePayload;
import io.umdev.vfiouser.protocol.DeviceInfoPayload;
import io.umdev.vfiouser.protocol.DmaAccessPayload;
import io.umdev.vfiouser.protocol.DmaMapPayload;
import io.umdev.vfiouser.protocol.DmaUnmapPayload;
import io.umdev.vfiouser.protocol.IrqInfoPayload;
import io.umdev.vfiouser.protocol.IrqSetPayload;
import io.umdev.vfiouser.protocol.MessageHeader;
import io.umdev.vfiouser.protocol.MigDataPayload;
import io.umdev.vfiouser.protocol.ProtocolException;
import io.umdev.vfiouser.protocol.RegionAccessPayload;
import io.umdev.vfiouser.protocol.RegionCapabilities;
import io.umdev.vfiouser.protocol.RegionCapability;
import io.umdev.vfiouser.protocol.RegionInfoPayload;
import io.umdev.vfiouser.protocol.RegionIoFdsPayload;
import io.umdev.vfiouser.protocol.VersionPayload;
import io.umdev.vfiouser.protocol.WriteMultiPayload;
import io.umdev.vfiouser.transport.MessageChannel;
import io.umdev.vfiouser.transport.ReceivedMessage;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A vfio-user client. Thread-safe: commands from several threads may be in flight at once.
 *
 * <p>Reading is leader/follower: a thread waiting for its reply reads the socket itself when no other
 * thread is reading, and hands any other message to whoever it belongs to. A round trip therefore wakes
 * no third thread. When no command is in flight, a background thread watches the socket so that the
 * server's DMA_READ/DMA_WRITE requests are answered at any time.
 */
public final class VfioUserClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VfioUserClient.class);
    private static final int MESSAGE_ID_MASK = 0xffff;
    /** The background reader stays off the socket this long after the last command. */
    private static final long IDLE_GRACE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    /**
     * While commands keep coming the background reader checks back with growing pauses, up to this: a
     * wake-up every millisecond lands in the middle of round trips (on a busy or pinned CPU it doubled the
     * 99th percentile of a REGION_READ).
     */
    private static final long BUSY_PARK_MAX_NANOS = TimeUnit.MILLISECONDS.toNanos(16);
    private static final int IDLE_POLL_MILLIS = 100;

    private final MessageChannel channel;
    private final ClientOptions options;
    private final ReentrantLock readLock = new ReentrantLock();
    private final Map<Integer, CompletableFuture<ReceivedMessage>> pending = new ConcurrentHashMap<>();
    private final AtomicInteger nextId = new AtomicInteger();
    private final AtomicInteger callers = new AtomicInteger();
    private final ClientMemory memory = new ClientMemory();
    private final Thread idleReader;
    private volatile long lastCallEnd;
    private volatile boolean closed;
    private volatile IOException failure;
    private Capabilities server = Capabilities.SPEC_DEFAULTS;

    private VfioUserClient(MessageChannel channel, ClientOptions options) {
        this.channel = channel;
        this.options = options;
        this.idleReader = Thread.ofPlatform().name("vfio-user-client").daemon(true).unstarted(this::idleRead);
    }

    public static VfioUserClient connect(Path socket) throws IOException {
        return connect(socket, ClientOptions.defaults());
    }

    /** Connects and negotiates VERSION; a refusal (EBUSY, EACCES, ...) is a {@link VfioUserException}. */
    public static VfioUserClient connect(Path socket, ClientOptions options) throws IOException {
        VfioUserClient client = new VfioUserClient(MessageChannel.connect(socket), options);
        try {
            client.negotiate();
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
        client.idleReader.start();
        return client;
    }

    private void negotiate() throws IOException {
        Capabilities ours = new Capabilities(options.maxMsgFds(), options.maxDataXferSize(), 4096, 65535,
                options.writeMultiple());
        VersionPayload version = new VersionPayload(VersionPayload.MAJOR, VersionPayload.MINOR, ours.toJson());
        MemorySegment payload = MemorySegment.ofArray(new byte[(int) version.encodedSize()]);
        version.encode(payload);
        Reply reply = check(call(Command.VERSION.code(), 0, payload, List.of()));
        try {
            VersionPayload answer = VersionPayload.decode(reply.payload());
            if (answer.major() != VersionPayload.MAJOR || answer.minor() > VersionPayload.MINOR) {
                throw new IOException("server speaks protocol " + answer.major() + "." + answer.minor());
            }
            server = Capabilities.parse(answer.capabilities());
        } catch (ProtocolException e) {
            throw new IOException("malformed VERSION reply: " + e.getMessage(), e);
        }
    }

    /** What the server announced it can receive. */
    public Capabilities serverCapabilities() {
        return server;
    }

    public boolean isConnected() {
        return !closed && failure == null;
    }

    // ---- typed commands ------------------------------------------------------------------------

    public DeviceInfoPayload deviceInfo() throws IOException {
        MemorySegment p = payload(DeviceInfoPayload.LAYOUT.byteSize());
        new DeviceInfoPayload((int) DeviceInfoPayload.LAYOUT.byteSize(), 0, 0, 0).encode(p);
        return decoded(check(call(Command.DEVICE_GET_INFO.code(), 0, p, List.of())), DeviceInfoPayload::decode);
    }

    /** Region info, asking again with a larger argsz when the capabilities did not fit. */
    public RegionInfo regionInfo(int index) throws IOException {
        long argsz = RegionInfoPayload.LAYOUT.byteSize();
        while (true) {
            MemorySegment p = payload(RegionInfoPayload.LAYOUT.byteSize());
            new RegionInfoPayload((int) argsz, 0, index, 0, 0, 0).encode(p);
            Reply reply = check(call(Command.DEVICE_GET_REGION_INFO.code(), 0, p, List.of()));
            RegionInfoPayload info = decoded(reply, RegionInfoPayload::decode);
            long needed = Integer.toUnsignedLong(info.argsz());
            if (needed > argsz && argsz == RegionInfoPayload.LAYOUT.byteSize()) {
                reply.closeFds();
                argsz = needed;
                continue;
            }
            List<RegionCapability> caps = List.of();
            if ((info.flags() & RegionInfoPayload.FLAG_CAPS) != 0 && info.capOffset() != 0) {
                try {
                    caps = RegionCapabilities.decodeChain(reply.payload(), Integer.toUnsignedLong(info.capOffset()));
                } catch (ProtocolException e) {
                    reply.closeFds();
                    throw new IOException("malformed region capabilities: " + e.getMessage(), e);
                }
            }
            OwnedFd fd = reply.fds().isEmpty() ? null : reply.fds().get(0);
            for (int i = 1; i < reply.fds().size(); i++) {
                reply.fds().get(i).close();
            }
            return new RegionInfo(info.index(), info.flags(), info.size(), info.offset(), caps, fd);
        }
    }

    public IrqInfoPayload irqInfo(int index) throws IOException {
        MemorySegment p = payload(IrqInfoPayload.LAYOUT.byteSize());
        new IrqInfoPayload((int) IrqInfoPayload.LAYOUT.byteSize(), 0, index, 0).encode(p);
        return decoded(check(call(Command.DEVICE_GET_IRQ_INFO.code(), 0, p, List.of())), IrqInfoPayload::decode);
    }

    /**
     * Maps [iova, iova+size) for the server. With {@code fd} the server maps the file at
     * {@code fileOffset} (the caller keeps ownership of the fd); {@code local} is this process's view of
     * the range, used to answer the server's DMA_READ/DMA_WRITE (required when there is no fd).
     */
    public void dmaMap(long iova, long size, int flags, OwnedFd fd, long fileOffset, MemorySegment local)
            throws IOException {
        MemorySegment p = payload(DmaMapPayload.LAYOUT.byteSize());
        new DmaMapPayload(flags, fd == null ? 0 : fileOffset, iova, size).encode(p);
        if (local != null) {
            memory.add(iova, local.asSlice(0, Math.min(size, local.byteSize())),
                    (flags & DmaMapPayload.FLAG_READ) != 0, (flags & DmaMapPayload.FLAG_WRITE) != 0);
        }
        try {
            check(call(Command.DMA_MAP.code(), 0, p, fd == null ? List.of() : List.of(fd)));
        } catch (IOException e) {
            memory.remove(iova);
            throw e;
        }
    }

    public void dmaUnmap(long iova, long size) throws IOException {
        MemorySegment p = payload(DmaUnmapPayload.LAYOUT.byteSize());
        new DmaUnmapPayload((int) DmaUnmapPayload.LAYOUT.byteSize(), 0, iova, size).encode(p);
        check(call(Command.DMA_UNMAP.code(), 0, p, List.of()));
        memory.remove(iova);
    }

    public void dmaUnmapAll() throws IOException {
        MemorySegment p = payload(DmaUnmapPayload.LAYOUT.byteSize());
        new DmaUnmapPayload((int) DmaUnmapPayload.LAYOUT.byteSize(), DmaUnmapPayload.FLAG_ALL, 0, 0).encode(p);
        check(call(Command.DMA_UNMAP.code(), 0, p, List.of()));
        memory.clear();
    }

    /**
     * Installs trigger eventfds for vectors [start, start+fds.size()) of IRQ index {@code index}; a null
     * entry removes that vector's eventfd. Sent in as many messages as the server's max_msg_fds needs,
     * each holding only eventfds or only removals, as QEMU does.
     */
    public void setIrqEventFds(int index, int start, List<EventFd> fds) throws IOException {
        int max = Math.max(1, server.maxMsgFds());
        int done = 0;
        while (done < fds.size()) {
            boolean assign = fds.get(done) != null;
            int n = 0;
            while (done + n < fds.size() && n < max && (fds.get(done + n) != null) == assign) {
                n++;
            }
            List<OwnedFd> chunk = new ArrayList<>(n);
            if (assign) {
                for (int i = 0; i < n; i++) {
                    chunk.add(fds.get(done + i).fd());
                }
            }
            setIrqs(index, IrqSetPayload.DATA_EVENTFD | IrqSetPayload.ACTION_TRIGGER, start + done, n,
                    MemorySegment.NULL, chunk);
            done += n;
        }
    }

    /** One SET_IRQS message exactly as given ({@code data}: the booleans of DATA_BOOL, else empty). */
    public void setIrqs(int index, int flags, int start, int count, MemorySegment data, List<OwnedFd> fds)
            throws IOException {
        MemorySegment bytes = data.equals(MemorySegment.NULL) ? MemorySegment.ofArray(new byte[0]) : data;
        MemorySegment p = payload(IrqSetPayload.LAYOUT.byteSize() + bytes.byteSize());
        new IrqSetPayload((int) p.byteSize(), flags, index, start, count, bytes).encode(p);
        check(call(Command.DEVICE_SET_IRQS.code(), 0, p, fds));
    }

    public RegionIoFds regionIoFds(int index) throws IOException {
        long argsz = RegionIoFdsPayload.LAYOUT.byteSize();
        while (true) {
            MemorySegment p = payload(RegionIoFdsPayload.LAYOUT.byteSize());
            new RegionIoFdsPayload((int) argsz, 0, index, 0).encode(p);
            Reply reply = check(call(Command.DEVICE_GET_REGION_IO_FDS.code(), 0, p, List.of()));
            RegionIoFdsPayload head = decoded(reply, RegionIoFdsPayload::decode);
            long needed = Integer.toUnsignedLong(head.argsz());
            long count = Integer.toUnsignedLong(head.count());
            // Entries cannot be smaller than the structure: a count the reply could not hold is a lie.
            if (count > (options.maxMessageSize() - RegionIoFdsPayload.LAYOUT.byteSize())
                    / RegionIoFdsPayload.SUBREGION.byteSize()) {
                reply.closeFds();
                throw new IOException("IO_FDS reply claims " + count + " sub-regions");
            }
            if (needed > argsz && count > 0) {
                reply.closeFds();
                argsz = needed;
                continue;
            }
            List<RegionIoFdsPayload.Subregion> subregions = new ArrayList<>();
            long stride = count == 0 ? RegionIoFdsPayload.SUBREGION.byteSize()
                    : (needed - RegionIoFdsPayload.LAYOUT.byteSize()) / count;
            try {
                for (int i = 0; i < count; i++) {
                    subregions.add(RegionIoFdsPayload.decodeSubregion(reply.payload(), i, stride));
                }
            } catch (ProtocolException e) {
                reply.closeFds();
                throw new IOException("malformed IO_FDS reply: " + e.getMessage(), e);
            }
            return new RegionIoFds(head.index(), subregions, reply.fds());
        }
    }

    /** Reads {@code count} bytes of a region; the result is this call's own memory. */
    public MemorySegment regionRead(int index, long offset, int count) throws IOException {
        MemorySegment p = payload(RegionAccessPayload.LAYOUT.byteSize());
        RegionAccessPayload.encodeHead(p, offset, index, count);
        Reply reply = check(call(Command.REGION_READ.code(), 0, p, List.of()));
        RegionAccessPayload answer = decoded(reply, RegionAccessPayload::decode);
        if (answer.byteCount() != Integer.toUnsignedLong(count) || answer.data().byteSize() != answer.byteCount()) {
            throw new IOException("REGION_READ of " + count + " bytes answered with " + answer.data().byteSize());
        }
        return answer.data();
    }

    /** Writes a region and waits for the server's acknowledgement. */
    public void regionWrite(int index, long offset, MemorySegment data) throws IOException {
        check(call(Command.REGION_WRITE.code(), 0, regionWritePayload(index, offset, data), List.of()));
    }

    /** Writes a region without waiting (NO_REPLY), as QEMU posts memory-BAR writes. */
    public void regionWritePosted(int index, long offset, MemorySegment data) throws IOException {
        post(Command.REGION_WRITE.code(), regionWritePayload(index, offset, data), List.of());
    }

    private MemorySegment regionWritePayload(int index, long offset, MemorySegment data) {
        MemorySegment p = payload(RegionAccessPayload.DATA_OFFSET + data.byteSize());
        RegionAccessPayload.encodeHead(p, offset, index, (int) data.byteSize());
        MemorySegment.copy(data, 0, p, RegionAccessPayload.DATA_OFFSET, data.byteSize());
        return p;
    }

    /** Coalesced small writes in one REGION_WRITE_MULTI; returns the count the server acknowledged. */
    public long regionWriteMulti(List<WriteMultiPayload.Write> writes) throws IOException {
        MemorySegment p = payload(WriteMultiPayload.LAYOUT.byteSize() + writes.size() * WriteMultiPayload.WRITE.byteSize());
        WriteMultiPayload.encodeCount(p, writes.size());
        for (int i = 0; i < writes.size(); i++) {
            WriteMultiPayload.Write w = writes.get(i);
            WriteMultiPayload.encodeWrite(p, i, w.offset(), w.region(), w.data());
        }
        Reply reply = check(call(Command.REGION_WRITE_MULTI.code(), 0, p, List.of()));
        return reply.payload().byteSize() >= Long.BYTES ? reply.payload().get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0) : -1;
    }

    public void reset() throws IOException {
        check(call(Command.DEVICE_RESET.code(), 0, payload(0), List.of()));
    }

    /** DEVICE_FEATURE; the reply payload holds argsz, flags and (for GET) the feature data. */
    public Reply deviceFeature(int flags, MemorySegment data, int argsz) throws IOException {
        MemorySegment p = payload(DeviceFeaturePayload.LAYOUT.byteSize() + data.byteSize());
        new DeviceFeaturePayload(argsz, flags, data).encode(p);
        return check(call(Command.DEVICE_FEATURE.code(), 0, p, List.of()));
    }

    public MemorySegment migrationDataRead(int size) throws IOException {
        MemorySegment p = payload(MigDataPayload.LAYOUT.byteSize());
        MigDataPayload.encodeHead(p, (int) MigDataPayload.DATA_OFFSET + size, size);
        MigDataPayload answer = decoded(check(call(Command.MIG_DATA_READ.code(), 0, p, List.of())), MigDataPayload::decode);
        return answer.data();
    }

    public void migrationDataWrite(MemorySegment data) throws IOException {
        MemorySegment p = payload(MigDataPayload.DATA_OFFSET + data.byteSize());
        MigDataPayload.encodeHead(p, (int) MigDataPayload.DATA_OFFSET, (int) data.byteSize());
        MemorySegment.copy(data, 0, p, MigDataPayload.DATA_OFFSET, data.byteSize());
        check(call(Command.MIG_DATA_WRITE.code(), 0, p, List.of()));
    }

    // ---- raw messages --------------------------------------------------------------------------

    /**
     * Sends one command with the given flags and payload and returns its reply, error or not. The
     * descriptors stay owned by the caller.
     */
    public Reply call(int command, int flags, MemorySegment payload, List<OwnedFd> fds) throws IOException {
        int id = nextId.getAndIncrement() & MESSAGE_ID_MASK;
        CompletableFuture<ReceivedMessage> reply = new CompletableFuture<>();
        if (pending.putIfAbsent(id, reply) != null) {
            throw new IOException("too many commands in flight");
        }
        callers.incrementAndGet();
        try {
            send(id, command, flags & ~MessageHeader.NO_REPLY, payload, fds);
            ReceivedMessage m = awaitReply(reply, System.nanoTime() + options.replyTimeout().toNanos(), command);
            return new Reply(m.id(), m.command(), m.flags(), m.error(), m.payload(), m.fds());
        } finally {
            pending.remove(id);
            lastCallEnd = System.nanoTime();
            callers.decrementAndGet();
        }
    }

    /** Sends one command with NO_REPLY set. */
    public void post(int command, MemorySegment payload, List<OwnedFd> fds) throws IOException {
        send(nextId.getAndIncrement() & MESSAGE_ID_MASK, command, MessageHeader.NO_REPLY, payload, fds);
    }

    /** Sends bytes exactly as given, header and all: for tests that must say what a good client would not. */
    public void sendRaw(MemorySegment message, List<OwnedFd> fds) throws IOException {
        ensureOpen();
        channel.send(message, fds);
    }

    private void send(int id, int command, int flags, MemorySegment payload, List<OwnedFd> fds) throws IOException {
        ensureOpen();
        MemorySegment message = MemorySegment.ofArray(new byte[(int) (MessageHeader.SIZE + payload.byteSize())]);
        MessageHeader.write(message, id, command, message.byteSize(), MessageHeader.TYPE_COMMAND | flags, 0);
        MemorySegment.copy(payload, 0, message, MessageHeader.SIZE, payload.byteSize());
        try {
            channel.send(message, fds);
        } catch (IOException e) {
            fail(e);
            throw e;
        }
    }

    private void ensureOpen() throws IOException {
        IOException f = failure;
        if (f != null) {
            throw new IOException("vfio-user connection is broken: " + f.getMessage(), f);
        }
        if (closed) {
            throw new IOException("vfio-user client is closed");
        }
    }

    /** Waits for a reply, reading the socket ourselves whenever no other thread is. */
    private ReceivedMessage awaitReply(CompletableFuture<ReceivedMessage> reply, long deadline, int command)
            throws IOException {
        while (!reply.isDone()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new VfioUserException(command, Errno.ETIMEDOUT, "no reply within " + options.replyTimeout());
            }
            boolean locked;
            try {
                locked = readLock.tryLock(left, TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new VfioUserException(command, Errno.EINTR, "interrupted");
            }
            if (!locked) {
                continue;
            }
            try {
                if (!reply.isDone() && channel.awaitReadable((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)))) {
                    readOne();
                }
            } finally {
                readLock.unlock();
            }
        }
        try {
            return reply.join();
        } catch (CompletionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof IOException io ? new IOException(io.getMessage(), io) : new IOException(cause);
        }
    }

    /** Reads one message and gives it to its owner. Called with the read lock held. */
    private void readOne() throws IOException {
        ReceivedMessage m;
        try {
            m = channel.receiveDetached(options.maxMessageSize());
        } catch (IOException e) {
            fail(e);
            throw e;
        }
        if (m == null) {
            EOFException eof = new EOFException("the server closed the connection");
            fail(eof);
            throw eof;
        }
        if (m.isReply()) {
            CompletableFuture<ReceivedMessage> waiter = pending.remove(m.id());
            if (waiter == null) {
                LOG.warn("reply {} (command {}) matches no command in flight", m.id(), m.command());
                m.close();
            } else {
                waiter.complete(m);
            }
        } else {
            serveRequest(m);
        }
    }

    /** Answers the server's DMA_READ / DMA_WRITE from the memory this client mapped. */
    private void serveRequest(ReceivedMessage m) throws IOException {
        try (m) {
            boolean wantsReply = (m.flags() & MessageHeader.NO_REPLY) == 0;
            int errno = Errno.OK;
            MemorySegment reply = null;
            Command command = Command.of(m.command());
            try {
                if (!m.fds().isEmpty() || m.oversized()) {
                    throw ProtocolException.invalid("server request carries fds or is oversized");
                }
                if (command == Command.DMA_READ) {
                    DmaAccessPayload p = DmaAccessPayload.decode(m.payload());
                    if (p.count() < 0 || p.count() > options.maxDataXferSize() || p.data().byteSize() != 0) {
                        throw new ProtocolException(Errno.E2BIG, "DMA_READ count " + p.count());
                    }
                    MemorySegment source = memory.find(p.address(), p.count(), false);
                    if (source == null) {
                        throw new ProtocolException(Errno.EFAULT, "DMA_READ outside client memory");
                    }
                    reply = payload(DmaAccessPayload.DATA_OFFSET + p.count());
                    DmaAccessPayload.encodeHead(reply, p.address(), p.count());
                    MemorySegment.copy(source, 0, reply, DmaAccessPayload.DATA_OFFSET, p.count());
                } else if (command == Command.DMA_WRITE) {
                    DmaAccessPayload p = DmaAccessPayload.decode(m.payload());
                    if (p.count() < 0 || p.data().byteSize() != p.count()) {
                        throw ProtocolException.invalid("DMA_WRITE count %d with %d bytes", p.count(), p.data().byteSize());
                    }
                    MemorySegment target = memory.find(p.address(), p.count(), true);
                    if (target == null) {
                        throw new ProtocolException(Errno.EFAULT, "DMA_WRITE outside client memory");
                    }
                    target.copyFrom(p.data());
                    reply = payload(DmaAccessPayload.LAYOUT.byteSize());
                    DmaAccessPayload.encodeHead(reply, p.address(), p.count());
                } else {
                    throw new ProtocolException(Errno.ENOSYS, "server sent command " + m.command());
                }
            } catch (ProtocolException e) {
                LOG.debug("refusing server request {}: {}", m.command(), e.getMessage());
                errno = e.errno();
            }
            if (!wantsReply) {
                return;
            }
            MemorySegment message;
            if (errno != Errno.OK) {
                message = MemorySegment.ofArray(new byte[MessageHeader.SIZE]);
                MessageHeader.write(message, m.id(), m.command(), MessageHeader.SIZE,
                        MessageHeader.TYPE_REPLY | MessageHeader.ERROR, errno);
            } else {
                message = MemorySegment.ofArray(new byte[(int) (MessageHeader.SIZE + reply.byteSize())]);
                MessageHeader.write(message, m.id(), m.command(), message.byteSize(), MessageHeader.TYPE_REPLY, 0);
                MemorySegment.copy(reply, 0, message, MessageHeader.SIZE, reply.byteSize());
            }
            channel.send(message, List.of());
        }
    }

    /** Watches the socket while no command is in flight, so server requests never wait for one. */
    private void idleRead() {
        long pause = IDLE_GRACE_NANOS;
        while (!closed && failure == null) {
            if (callers.get() > 0 || System.nanoTime() - lastCallEnd < IDLE_GRACE_NANOS) {
                LockSupport.parkNanos(pause);
                pause = Math.min(2 * pause, BUSY_PARK_MAX_NANOS);
                continue;
            }
            pause = IDLE_GRACE_NANOS;
            try {
                if (!channel.awaitReadable(IDLE_POLL_MILLIS) || callers.get() > 0 || !readLock.tryLock()) {
                    continue;
                }
                try {
                    if (channel.awaitReadable(0)) {
                        readOne();
                    }
                } finally {
                    readLock.unlock();
                }
            } catch (IOException e) {
                if (!closed) {
                    LOG.debug("vfio-user connection ended: {}", e.getMessage());
                }
                return;
            }
        }
    }

    private void fail(IOException cause) {
        failure = cause;
        pending.values().forEach(f -> f.completeExceptionally(cause));
    }

    private static MemorySegment payload(long size) {
        return MemorySegment.ofArray(new byte[(int) size]);
    }

    private static Reply check(Reply reply) throws IOException {
        if (reply.isError()) {
            reply.closeFds();
            throw new VfioUserException(reply.command(), reply.error(), "");
        }
        return reply;
    }

    /** A decoder of one reply payload. */
    @FunctionalInterface
    private interface Decoder<T> {
        T decode(MemorySegment payload) throws ProtocolException;
    }

    private static <T> T decoded(Reply reply, Decoder<T> decoder) throws IOException {
        try {
            return decoder.decode(reply.payload());
        } catch (ProtocolException e) {
            reply.closeFds();
            throw new IOException("malformed reply to command " + reply.command() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            LOG.debug("closing vfio-user socket: {}", e.getMessage());
        }
        fail(new IOException("client closed"));
        if (idleReader.isAlive()) {
            try {
                idleReader.join(TimeUnit.SECONDS.toMillis(1));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

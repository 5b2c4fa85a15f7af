package io.umdev.vhost;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.FileStat;
import io.umdev.linux.LinuxException;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.dma.DmaException;
import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.vhost.VhostUserChannel.Message;
import io.umdev.vhost.protocol.MessageHeader;
import io.umdev.vhost.protocol.Payloads;
import io.umdev.vhost.protocol.ProtocolFeature;
import io.umdev.vhost.protocol.Request;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.NetSpec;
import io.umdev.virtio.spec.PackedRing;
import io.umdev.virtio.spec.SplitRing;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.transport.PackedQueueState;
import io.umdev.virtio.transport.QueueInterrupt;
import io.umdev.virtio.transport.QueueState;
import io.umdev.virtio.transport.SplitQueueState;
import io.umdev.virtio.transport.VirtioDevice;
import io.umdev.virtio.transport.VirtioException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One front-end's vhost-user session with one virtio device: the state the messages build up (features,
 * memory table, vrings, log) and its translation into the {@link VirtioDevice} transport API.
 *
 * <p><b>Addresses.</b> The memory table maps each region's guest-physical range, once, into the device's
 * DMA table (address space 0) from the region's fd. Buffers in descriptors are guest-physical, so the
 * engine resolves them in that table directly; ring addresses arrive as front-end virtual addresses and
 * are translated to guest-physical through the table's regions when the ring starts.
 *
 * <p><b>Rings.</b> A ring starts when it has an address, a kick eventfd and (once
 * {@code F_PROTOCOL_FEATURES} is negotiated) is enabled: the device is brought to DRIVER_OK with the
 * negotiated features if it is not there, and the queue is programmed (size, addresses, base, call
 * eventfd) and made ready. GET_VRING_BASE stops it and answers its position. SET_STATUS is recorded and
 * answered by GET_STATUS (FEATURES_OK is checked against the device); it never resets the device, because
 * QEMU clears the status before it collects the ring bases.
 *
 * <p><b>Hostile input.</b> Every size, index, flag, address and fd count is checked; a bad message fails
 * (an error reply with REPLY_ACK, an empty payload for a GET) and changes nothing; the session and the
 * daemon carry on. Only a message that cannot be framed closes the connection.
 *
 * <p>Methods are called by the session's one thread; {@link #close()} (the front-end went away) stops
 * every ring, resets the device (its data, e.g. a disk, is the parent's and stays), and unmaps memory.
 */
public final class VhostUserSession implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserSession.class);

    /** Protocol features this backend offers. */
    public static final long PROTOCOL_FEATURES = ProtocolFeature.bit(ProtocolFeature.MQ)
            | ProtocolFeature.bit(ProtocolFeature.LOG_SHMFD) | ProtocolFeature.bit(ProtocolFeature.REPLY_ACK)
            | ProtocolFeature.bit(ProtocolFeature.CONFIG) | ProtocolFeature.bit(ProtocolFeature.RESET_DEVICE)
            | ProtocolFeature.bit(ProtocolFeature.STATUS);
    /** The vhost bits of the feature word that are not virtio features. */
    static final long VHOST_BITS = ProtocolFeature.bit(ProtocolFeature.F_LOG_ALL)
            | ProtocolFeature.bit(ProtocolFeature.F_PROTOCOL_FEATURES);
    /**
     * Virtio features never offered over vhost-user: ACCESS_PLATFORM would make ring and buffer addresses
     * IOVAs translated by IOTLB messages, which this backend does not implement.
     */
    static final long WITHHELD = VirtioFeature.bit(VirtioFeature.ACCESS_PLATFORM);
    /** Net bits served by the control queue, which a vhost-user net front-end emulates itself. */
    static final long FRONTEND_CONTROL_QUEUE_BITS = VirtioFeature.bits(NetSpec.F_CTRL_RX, NetSpec.F_CTRL_RX_EXTRA,
            NetSpec.F_CTRL_VLAN, NetSpec.F_CTRL_MAC_ADDR, NetSpec.F_MQ, NetSpec.F_GUEST_ANNOUNCE,
            NetSpec.F_CTRL_GUEST_OFFLOADS);
    /** The largest dirty log accepted: 1 GiB of bitmap covers 32 TiB of guest memory. */
    static final long MAX_LOG_BYTES = 1L << 30;
    private static final int STATUS_MASK = 0xff;
    private static final int ENABLE_MAX = 1;
    private static final int HALF_SHIFT = 16;
    private static final int HALF_MASK = 0xffff;
    private static final long REPLY_OK = 0;
    private static final MemorySegment EMPTY = MemorySegment.ofArray(new byte[0]);

    private final VirtioDevice device;
    private final DmaTable table;
    private final String name;
    private final Ring[] rings;
    private final MemorySegment replyBuffer = Arena.ofAuto().allocate(Payloads.CONFIG_HEADER_SIZE + Payloads.MAX_CONFIG_SIZE);

    private long features;
    private boolean featuresSet;
    private long protocolFeatures;
    private boolean protocolFeaturesSet;
    private boolean owned;
    private int frontendStatus;
    private Region[] regions = new Region[0];
    private DirtyBitmap log;
    private EventFd logFd;

    /** A memory table region: front-end virtual [userAddr, +size) is guest-physical [guestAddr, +size). */
    private record Region(long guestAddr, long size, long userAddr) {
        boolean containsUser(long address, long length) {
            long offset = address - userAddr;
            return Long.compareUnsigned(address, userAddr) >= 0 && Long.compareUnsigned(offset, size) < 0
                    && Long.compareUnsigned(length, size - offset) <= 0;
        }
    }

    /** What the messages said about one vring. */
    private static final class Ring {
        int num;
        boolean numSet;
        long descUser;
        long availUser;
        long usedUser;
        long logGuest;
        int addrFlags;
        boolean addressSet;
        int base;
        boolean enabled;
        EventFd kick;
        EventFd call;
        EventFd err;
        KickRelay relay;
        boolean running;
    }

    /**
     * @param device the instance's virtio device; the session owns its driver side until closed
     * @param name for logs and threads
     */
    public VhostUserSession(VirtioDevice device, String name) {
        this.device = Objects.requireNonNull(device, "device");
        this.table = device.addressSpace(0);
        this.name = Objects.requireNonNull(name, "name");
        this.rings = new Ring[device.queueCount()];
        for (int q = 0; q < rings.length; q++) {
            rings[q] = new Ring();
        }
        device.reset();
        device.setConfigChangeListener(this::deviceChanged);
    }

    /** Features offered in GET_FEATURES. */
    public long offeredFeatures() {
        return (device.deviceFeatures() & ~WITHHELD) | VHOST_BITS;
    }

    /** The vhost-user error a handler reports: an errno and why. */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        final int errno;

        Refused(int errno, String message) {
            super(message, null, false, false);
            this.errno = errno;
        }
    }

    /**
     * Handles one request and sends what it asks for: its reply, or with REPLY_ACK and NEED_REPLY an
     * acknowledgement. Never throws for a bad request; throws only when the reply cannot be sent.
     */
    public void handle(Message message, VhostUserChannel channel) throws IOException {
        int request = message.request();
        MemorySegment reply = null;
        int errno = Errno.OK;
        boolean hasReply = hasReply(request);
        try {
            reply = dispatch(message);
        } catch (Refused e) {
            errno = e.errno;
            LOG.warn("{}: {} refused: {}", name, Request.name(request), e.getMessage());
        } catch (VirtioException e) {
            errno = e.errno();
            LOG.warn("{}: {} refused by the device: {}", name, Request.name(request), e.getMessage());
        } catch (RuntimeException e) {
            errno = Errno.EIO;
            LOG.error("{}: {} failed", name, Request.name(request), e);
        } finally {
            message.close();
        }
        int replyFlags = MessageHeader.VERSION | MessageHeader.FLAG_REPLY;
        if (hasReply) {
            // A failed GET answers an empty payload: the front-end sees the wrong size and fails the call.
            MemorySegment payload = errno == Errno.OK && reply != null ? reply : EMPTY;
            channel.send(request, replyFlags, payload, List.of());
        } else if (message.needsReply() && ProtocolFeature.has(protocolFeatures, ProtocolFeature.REPLY_ACK)) {
            MemorySegment ack = replyBuffer.asSlice(0, Payloads.U64_SIZE);
            ack.set(JAVA_LONG_UNALIGNED, 0, errno == Errno.OK ? REPLY_OK : errno);
            channel.send(request, replyFlags, ack, List.of());
        }
    }

    /** Requests answered with a reply of their own, whatever REPLY_ACK says. */
    private boolean hasReply(int request) {
        return switch (request) {
            case Request.GET_FEATURES, Request.GET_PROTOCOL_FEATURES, Request.GET_VRING_BASE, Request.GET_QUEUE_NUM,
                    Request.GET_CONFIG, Request.GET_STATUS -> true;
            // With LOG_SHMFD the front-end waits for an empty reply once the log is mapped (QEMU reads no
            // status from it, so a refused log can only be logged here).
            case Request.SET_LOG_BASE -> ProtocolFeature.has(protocolFeatures, ProtocolFeature.LOG_SHMFD);
            default -> false;
        };
    }

    private MemorySegment dispatch(Message m) throws Refused {
        return switch (m.request()) {
            case Request.GET_FEATURES -> u64Reply(m, offeredFeatures());
            case Request.SET_FEATURES -> none(setFeatures(u64(m)));
            case Request.SET_OWNER -> none(setOwner(m));
            case Request.RESET_OWNER, Request.RESET_DEVICE -> none(resetDevice(m));
            case Request.GET_PROTOCOL_FEATURES -> u64Reply(m, PROTOCOL_FEATURES);
            case Request.SET_PROTOCOL_FEATURES -> none(setProtocolFeatures(u64(m)));
            case Request.SET_MEM_TABLE -> none(setMemTable(m));
            case Request.SET_LOG_BASE -> setLogBase(m);
            case Request.SET_LOG_FD -> none(setLogFd(m));
            case Request.SET_VRING_NUM -> none(setVringNum(m));
            case Request.SET_VRING_ADDR -> none(setVringAddr(m));
            case Request.SET_VRING_BASE -> none(setVringBase(m));
            case Request.GET_VRING_BASE -> getVringBase(m);
            case Request.SET_VRING_KICK, Request.SET_VRING_CALL, Request.SET_VRING_ERR -> none(setVringFile(m));
            case Request.SET_VRING_ENABLE -> none(setVringEnable(m));
            case Request.GET_QUEUE_NUM -> u64Reply(m, queueNum(m));
            case Request.GET_CONFIG -> getConfig(m);
            case Request.SET_CONFIG -> none(setConfig(m));
            case Request.SET_STATUS -> none(setStatus(u64(m)));
            case Request.GET_STATUS -> u64Reply(m, status());
            default -> throw new Refused(Errno.EOPNOTSUPP, "not supported");
        };
    }

    private static MemorySegment none(boolean unused) {
        return null;
    }

    // ---- Payload checks ----

    private static void expect(Message m, long payloadSize, int fds) throws Refused {
        if (m.payload().byteSize() != payloadSize) {
            throw new Refused(Errno.EINVAL, "payload of " + m.payload().byteSize() + " bytes, expected " + payloadSize);
        }
        if (m.fds().size() != fds) {
            throw new Refused(Errno.EINVAL, m.fds().size() + " descriptors, expected " + fds);
        }
    }

    private static long u64(Message m) throws Refused {
        expect(m, Payloads.U64_SIZE, 0);
        return m.payload().get(JAVA_LONG_UNALIGNED, 0);
    }

    private MemorySegment u64Reply(Message m, long value) throws Refused {
        // A GET carries no payload, but QEMU sends a u64-sized zero one for some: accept both.
        if (m.payload().byteSize() != 0 && m.payload().byteSize() != Payloads.U64_SIZE) {
            throw new Refused(Errno.EINVAL, "payload of " + m.payload().byteSize() + " bytes on a GET");
        }
        if (!m.fds().isEmpty()) {
            throw new Refused(Errno.EINVAL, "descriptors on a GET");
        }
        MemorySegment r = replyBuffer.asSlice(0, Payloads.U64_SIZE);
        r.set(JAVA_LONG_UNALIGNED, 0, value);
        return r;
    }

    private int ringIndex(long index) throws Refused {
        if (index < 0 || index >= rings.length) {
            throw new Refused(Errno.EINVAL, "no vring " + index + " (the device has " + rings.length + ")");
        }
        return (int) index;
    }

    // ---- Features, owner, status ----

    private boolean setFeatures(long wanted) throws Refused {
        long unknown = wanted & ~offeredFeatures();
        if (unknown != 0) {
            throw new Refused(Errno.EINVAL, "features 0x" + Long.toHexString(unknown) + " were not offered");
        }
        long virtio = wanted & ~VHOST_BITS;
        if (featuresSet && virtio != (features & ~VHOST_BITS) && anyRunning()) {
            throw new Refused(Errno.EBUSY, "virtio features cannot change while rings run");
        }
        features = wanted;
        featuresSet = true;
        applyLog();
        return true;
    }

    private boolean setProtocolFeatures(long wanted) throws Refused {
        if ((wanted & ~PROTOCOL_FEATURES) != 0) {
            throw new Refused(Errno.EINVAL, "protocol features 0x" + Long.toHexString(wanted & ~PROTOCOL_FEATURES)
                    + " were not offered");
        }
        protocolFeatures = wanted;
        protocolFeaturesSet = true;
        return true;
    }

    private boolean setOwner(Message m) throws Refused {
        expect(m, 0, 0);
        owned = true;
        return true;
    }

    private boolean resetDevice(Message m) throws Refused {
        expect(m, 0, 0);
        stopAllRings();
        device.reset();
        for (Ring r : rings) {
            closeRingFds(r);
            r.numSet = false;
            r.addressSet = false;
            r.base = 0;
            r.enabled = false;
        }
        features = 0;
        featuresSet = false;
        frontendStatus = DeviceStatus.RESET;
        setLog(null);
        return true;
    }

    private boolean setStatus(long status) throws Refused {
        if ((status & ~(long) STATUS_MASK) != 0) {
            throw new Refused(Errno.EINVAL, "status 0x" + Long.toHexString(status) + " is not a status byte");
        }
        int s = (int) status;
        if ((s & DeviceStatus.FEATURES_OK) != 0 && (frontendStatus & DeviceStatus.FEATURES_OK) == 0 && !negotiate()) {
            s &= ~DeviceStatus.FEATURES_OK;
        }
        frontendStatus = s;
        return true;
    }

    private long status() {
        return frontendStatus | (device.status() & DeviceStatus.NEEDS_RESET);
    }

    /**
     * Brings the device to FEATURES_OK with the negotiated virtio features, resetting it first if it holds
     * others (only while no ring runs). False if the device refused the features.
     */
    private boolean negotiate() throws Refused {
        if (!featuresSet) {
            throw new Refused(Errno.EINVAL, "no SET_FEATURES yet");
        }
        long virtio = deviceFeatures();
        int st = device.status();
        if ((st & DeviceStatus.FEATURES_OK) != 0 && (st & DeviceStatus.NEEDS_RESET) == 0
                && device.driverFeatures() == virtio) {
            return true;
        }
        if (anyRunning()) {
            throw new Refused(Errno.EBUSY, "the device must be renegotiated, but rings run");
        }
        device.reset();
        int s = DeviceStatus.ACKNOWLEDGE;
        device.setStatus(s);
        s |= DeviceStatus.DRIVER;
        device.setStatus(s);
        device.setDriverFeatures(virtio);
        device.setStatus(s | DeviceStatus.FEATURES_OK);
        boolean accepted = (device.status() & DeviceStatus.FEATURES_OK) != 0;
        if (!accepted) {
            LOG.warn("{}: the device refused features {}", name, VirtioFeature.describe(virtio));
        }
        return accepted;
    }

    /**
     * F_PROTOCOL_FEATURES counts as negotiated once it is in SET_FEATURES or the front-end has set protocol
     * features: QEMU disables rings with SET_VRING_ENABLE before its first SET_FEATURES.
     */
    private boolean protocolFeaturesNegotiated() {
        return ProtocolFeature.has(features, ProtocolFeature.F_PROTOCOL_FEATURES) || protocolFeaturesSet;
    }

    /**
     * The virtio features the device is given. A net front-end (QEMU, DPDK) emulates the control queue
     * itself and never passes CTRL_VQ, yet may pass bits served there (CTRL_RX, MQ...): the device must
     * not see those without a control queue, so they stay between the front-end and its emulation.
     */
    private long deviceFeatures() {
        long virtio = features & ~VHOST_BITS;
        if (device.deviceId() == VirtioId.NET && !VirtioFeature.has(virtio, NetSpec.F_CTRL_VQ)) {
            virtio &= ~FRONTEND_CONTROL_QUEUE_BITS;
        }
        return virtio;
    }

    private boolean packed() {
        return VirtioFeature.has(features, VirtioFeature.RING_PACKED);
    }

    // ---- Memory ----

    private boolean setMemTable(Message m) throws Refused {
        MemorySegment p = m.payload();
        if (p.byteSize() < Payloads.MEMORY_HEADER_SIZE) {
            throw new Refused(Errno.EINVAL, "memory table payload of " + p.byteSize() + " bytes");
        }
        int count = p.get(JAVA_INT_UNALIGNED, Payloads.MEMORY_COUNT);
        if (count < 1 || count > Payloads.MAX_MEMORY_REGIONS) {
            throw new Refused(Errno.EINVAL, "memory table of " + Integer.toUnsignedString(count) + " regions (1.."
                    + Payloads.MAX_MEMORY_REGIONS + ")");
        }
        expect(m, Payloads.MEMORY_HEADER_SIZE + (long) count * Payloads.MEMORY_REGION_SIZE, count);
        Region[] next = new Region[count];
        long[] offsets = new long[count];
        for (int i = 0; i < count; i++) {
            long at = Payloads.MEMORY_HEADER_SIZE + (long) i * Payloads.MEMORY_REGION_SIZE;
            long gpa = p.get(JAVA_LONG_UNALIGNED, at + Payloads.REGION_GUEST_ADDR);
            long size = p.get(JAVA_LONG_UNALIGNED, at + Payloads.REGION_SIZE);
            long uva = p.get(JAVA_LONG_UNALIGNED, at + Payloads.REGION_USER_ADDR);
            long offset = p.get(JAVA_LONG_UNALIGNED, at + Payloads.REGION_MMAP_OFFSET);
            if (size == 0 || Long.compareUnsigned(gpa + size - 1, gpa) < 0 || Long.compareUnsigned(uva + size - 1, uva) < 0) {
                throw new Refused(Errno.EINVAL, String.format("region %d [0x%x, +0x%x) at 0x%x is empty or wraps",
                        i, gpa, size, uva));
            }
            for (int j = 0; j < i; j++) {
                Region o = next[j];
                if (Long.compareUnsigned(uva, o.userAddr() + o.size()) < 0 && Long.compareUnsigned(o.userAddr(), uva + size) < 0) {
                    throw new Refused(Errno.EINVAL, "regions " + j + " and " + i + " overlap in the front-end's addresses");
                }
            }
            next[i] = new Region(gpa, size, uva);
            offsets[i] = offset;
        }
        // Memory changes under running rings only with the data path held (QEMU sends a new table on hotplug).
        boolean running = anyRunning();
        if (running) {
            device.suspend();
        }
        try {
            table.unmapAll();
            regions = new Region[0];
            for (int i = 0; i < count; i++) {
                OwnedFd fd = m.fds().set(i, null);
                try {
                    table.map(next[i].guestAddr(), next[i].size(), true, true, fd, offsets[i]);
                } catch (DmaException e) {
                    table.unmapAll();
                    throw new Refused(e.errno(), "region " + i + ": " + e.getMessage());
                }
            }
            regions = next;
        } finally {
            if (running) {
                device.resume();
            }
        }
        LOG.debug("{}: memory table of {} regions", name, count);
        return true;
    }

    /** The guest-physical address of front-end virtual [address, +length), which must lie in one region. */
    private long toGuest(long address, long length, String what) throws Refused {
        for (Region r : regions) {
            if (r.containsUser(address, length)) {
                return r.guestAddr() + (address - r.userAddr());
            }
        }
        throw new Refused(Errno.EFAULT, String.format("%s at 0x%x (+0x%x) is in no memory region", what, address, length));
    }

    // ---- Dirty log ----

    private MemorySegment setLogBase(Message m) throws Refused {
        if (!ProtocolFeature.has(protocolFeatures, ProtocolFeature.LOG_SHMFD)) {
            throw new Refused(Errno.EOPNOTSUPP, "LOG_SHMFD was not negotiated");
        }
        expect(m, Payloads.LOG_SIZE, 1);
        long size = m.payload().get(JAVA_LONG_UNALIGNED, Payloads.LOG_MMAP_SIZE);
        long offset = m.payload().get(JAVA_LONG_UNALIGNED, Payloads.LOG_MMAP_OFFSET);
        if (size <= 0 || size > MAX_LOG_BYTES || size % Long.BYTES != 0 || offset < 0 || offset % Long.BYTES != 0
                || Long.MAX_VALUE - offset < size) {
            throw new Refused(Errno.EINVAL, String.format("log of 0x%x bytes at offset 0x%x", size, offset));
        }
        OwnedFd fd = m.fds().get(0);
        MappedMemory mapping;
        try {
            FileStat stat = FileStat.of(fd);
            // Memory past the end of the file would fault when the data path writes a bit there.
            if (!stat.isRegularFile() || stat.size() < offset + size) {
                throw new Refused(Errno.EINVAL, "the log fd is not a memory file of at least offset + size bytes");
            }
            mapping = MappedMemory.map(fd, offset, size, true);
        } catch (LinuxException e) {
            throw new Refused(e.errno(), "mapping the log: " + e.getMessage());
        }
        setLog(new DirtyBitmap(mapping, mapping.segment()));
        return EMPTY;
    }

    private boolean setLogFd(Message m) throws Refused {
        expect(m, 0, 1);
        EventFd next = adoptEventFd(m, 0);
        if (logFd != null) {
            logFd.close();
        }
        logFd = next;
        return true;
    }

    private void setLog(DirtyBitmap next) {
        DirtyBitmap old = log;
        log = next;
        applyLog();
        if (old != null) {
            // setDirtyLog waited for any pass that could still write the old bitmap.
            old.close();
        }
    }

    /** The device logs while LOG_ALL is negotiated and a log is mapped. */
    private void applyLog() {
        boolean logging = ProtocolFeature.has(features, ProtocolFeature.F_LOG_ALL) && log != null;
        device.setDirtyLog(logging ? log : null);
    }

    /** The log the device writes now, if any (tests). */
    DirtyBitmap dirtyLog() {
        return log;
    }

    // ---- Vrings ----

    private boolean setVringNum(Message m) throws Refused {
        expect(m, Payloads.VRING_STATE_SIZE, 0);
        int q = ringIndex(Integer.toUnsignedLong(m.payload().get(JAVA_INT_UNALIGNED, Payloads.VRING_STATE_INDEX)));
        int num = m.payload().get(JAVA_INT_UNALIGNED, Payloads.VRING_STATE_NUM);
        if (num < 1 || num > device.queueMaxSize(q) || (!packed() && !SplitRing.validSize(num))) {
            throw new Refused(Errno.EINVAL, "vring " + q + " size " + Integer.toUnsignedString(num) + " (max "
                    + device.queueMaxSize(q) + (packed() ? ")" : ", a power of two)"));
        }
        Ring r = rings[q];
        if (r.running) {
            throw new Refused(Errno.EBUSY, "vring " + q + " runs");
        }
        r.num = num;
        r.numSet = true;
        return true;
    }

    private boolean setVringAddr(Message m) throws Refused {
        expect(m, Payloads.VRING_ADDR_SIZE, 0);
        MemorySegment p = m.payload();
        int q = ringIndex(Integer.toUnsignedLong(p.get(JAVA_INT_UNALIGNED, Payloads.VRING_ADDR_INDEX)));
        int flags = p.get(JAVA_INT_UNALIGNED, Payloads.VRING_ADDR_FLAGS);
        if ((flags & ~Payloads.VRING_ADDR_F_LOG) != 0) {
            throw new Refused(Errno.EINVAL, "vring address flags 0x" + Integer.toHexString(flags));
        }
        long desc = p.get(JAVA_LONG_UNALIGNED, Payloads.VRING_ADDR_DESC);
        long used = p.get(JAVA_LONG_UNALIGNED, Payloads.VRING_ADDR_USED);
        long avail = p.get(JAVA_LONG_UNALIGNED, Payloads.VRING_ADDR_AVAIL);
        long logGuest = p.get(JAVA_LONG_UNALIGNED, Payloads.VRING_ADDR_LOG);
        Ring r = rings[q];
        // QEMU sends the same addresses again on a running ring to switch used-ring logging on or off.
        if (r.running && (desc != r.descUser || used != r.usedUser || avail != r.availUser)) {
            throw new Refused(Errno.EBUSY, "vring " + q + " runs; its addresses cannot move");
        }
        r.descUser = desc;
        r.usedUser = used;
        r.availUser = avail;
        r.logGuest = logGuest;
        r.addrFlags = flags;
        r.addressSet = true;
        return true;
    }

    private boolean setVringBase(Message m) throws Refused {
        expect(m, Payloads.VRING_STATE_SIZE, 0);
        int q = ringIndex(Integer.toUnsignedLong(m.payload().get(JAVA_INT_UNALIGNED, Payloads.VRING_STATE_INDEX)));
        int num = m.payload().get(JAVA_INT_UNALIGNED, Payloads.VRING_STATE_NUM);
        Ring r = rings[q];
        if (r.running) {
            throw new Refused(Errno.EBUSY, "vring " + q + " runs");
        }
        if (!packed() && (num & ~HALF_MASK) != 0) {
            throw new Refused(Errno.EINVAL, "split vring base 0x" + Integer.toHexString(num) + " is over 16 bits");
        }
        r.base = num;
        return true;
    }

    private MemorySegment getVringBase(Message m) throws Refused {
        expect(m, Payloads.VRING_STATE_SIZE, 0);
        int q = ringIndex(Integer.toUnsignedLong(m.payload().get(JAVA_INT_UNALIGNED, Payloads.VRING_STATE_INDEX)));
        Ring r = rings[q];
        if (r.running) {
            stopRing(q);
        }
        // The ring restarts only with a new kick (vhost-user.rst: "Starting and stopping rings").
        if (r.kick != null) {
            r.kick.close();
            r.kick = null;
        }
        MemorySegment reply = replyBuffer.asSlice(0, Payloads.VRING_STATE_SIZE);
        reply.set(JAVA_INT_UNALIGNED, Payloads.VRING_STATE_INDEX, q);
        reply.set(JAVA_INT_UNALIGNED, Payloads.VRING_STATE_NUM, r.base);
        return reply;
    }

    private boolean setVringFile(Message m) throws Refused {
        long value = u64Payload(m);
        if ((value & ~(Payloads.VRING_FILE_INDEX_MASK | Payloads.VRING_FILE_NOFD)) != 0) {
            throw new Refused(Errno.EINVAL, "vring descriptor 0x" + Long.toHexString(value));
        }
        int q = ringIndex(value & Payloads.VRING_FILE_INDEX_MASK);
        boolean nofd = (value & Payloads.VRING_FILE_NOFD) != 0;
        if (m.fds().size() != (nofd ? 0 : 1)) {
            throw new Refused(Errno.EINVAL, m.fds().size() + " descriptors with a vring descriptor that "
                    + (nofd ? "says none" : "needs one"));
        }
        Ring r = rings[q];
        switch (m.request()) {
            case Request.SET_VRING_KICK -> {
                if (nofd) {
                    throw new Refused(Errno.EOPNOTSUPP, "polling a ring without a kick eventfd is not supported");
                }
                EventFd kick = adoptEventFd(m, 0);
                if (r.relay != null) {
                    r.relay.stop();
                    r.relay = null;
                }
                if (r.kick != null) {
                    r.kick.close();
                }
                r.kick = kick;
                if (!protocolFeaturesNegotiated()) {
                    r.enabled = true;
                }
                if (r.running) {
                    r.relay = KickRelay.start(device, q, kick, name);
                    device.kick(q);
                } else {
                    startRing(q);
                }
            }
            case Request.SET_VRING_CALL -> {
                EventFd call = nofd ? null : adoptEventFd(m, 0);
                EventFd old = r.call;
                r.call = call;
                if (r.running) {
                    device.setQueueInterrupt(q, call == null ? QueueInterrupt.NONE : QueueInterrupt.of(call));
                }
                if (old != null) {
                    old.close();
                }
            }
            default -> {
                EventFd err = nofd ? null : adoptEventFd(m, 0);
                if (r.err != null) {
                    r.err.close();
                }
                r.err = err;
            }
        }
        return true;
    }

    private static long u64Payload(Message m) throws Refused {
        if (m.payload().byteSize() != Payloads.U64_SIZE) {
            throw new Refused(Errno.EINVAL, "payload of " + m.payload().byteSize() + " bytes, expected "
                    + Payloads.U64_SIZE);
        }
        return m.payload().get(JAVA_LONG_UNALIGNED, 0);
    }

    private static EventFd adoptEventFd(Message m, int index) throws Refused {
        OwnedFd fd = m.fds().get(index);
        try {
            EventFd e = EventFd.adoptChecked(fd);
            m.fds().set(index, null);
            return e;
        } catch (LinuxException e) {
            throw new Refused(Errno.EINVAL, "descriptor is not an eventfd: " + e.getMessage());
        }
    }

    private boolean setVringEnable(Message m) throws Refused {
        if (!protocolFeaturesNegotiated()) {
            throw new Refused(Errno.EINVAL, "SET_VRING_ENABLE needs F_PROTOCOL_FEATURES negotiated");
        }
        expect(m, Payloads.VRING_STATE_SIZE, 0);
        int q = ringIndex(Integer.toUnsignedLong(m.payload().get(JAVA_INT_UNALIGNED, Payloads.VRING_STATE_INDEX)));
        int enable = m.payload().get(JAVA_INT_UNALIGNED, Payloads.VRING_STATE_NUM);
        if (enable < 0 || enable > ENABLE_MAX) {
            throw new Refused(Errno.EINVAL, "enable " + Integer.toUnsignedString(enable));
        }
        Ring r = rings[q];
        r.enabled = enable == ENABLE_MAX;
        if (r.enabled) {
            startRing(q);
        } else if (r.running) {
            stopRing(q);
        }
        return true;
    }

    /** Starts ring q if it has all it needs; a ring missing something just waits. */
    private void startRing(int q) throws Refused {
        Ring r = rings[q];
        if (r.running || r.kick == null || !r.addressSet || !r.enabled) {
            return;
        }
        if (!negotiate()) {
            throw new Refused(Errno.EINVAL, "the device refused the negotiated features");
        }
        int num = r.numSet ? r.num : device.queueMaxSize(q);
        boolean packed = packed();
        long descBytes = packed ? (long) num * PackedRing.DESC_SIZE : SplitRing.descTableSize(num);
        long availBytes = packed ? PackedRing.EVENT_SIZE : SplitRing.availSize(num);
        long usedBytes = packed ? PackedRing.EVENT_SIZE : SplitRing.usedSize(num);
        long desc = toGuest(r.descUser, descBytes, "descriptor table of vring " + q);
        long avail = toGuest(r.availUser, availBytes, "driver area of vring " + q);
        long used = toGuest(r.usedUser, usedBytes, "device area of vring " + q);
        // Refused here with an errno rather than left to the engine, which would mark the device NEEDS_RESET.
        checkAligned(desc, packed ? PackedRing.DESC_ALIGN : SplitRing.DESC_ALIGN, "descriptor table", q);
        checkAligned(avail, packed ? PackedRing.EVENT_ALIGN : SplitRing.AVAIL_ALIGN, "driver area", q);
        checkAligned(used, packed ? PackedRing.EVENT_ALIGN : SplitRing.USED_ALIGN, "device area", q);
        device.setQueueSize(q, num);
        device.setQueueAddress(q, desc, avail, used);
        device.setQueueState(q, baseState(r.base, packed));
        device.setQueueInterrupt(q, r.call == null ? QueueInterrupt.NONE : QueueInterrupt.of(r.call));
        int st = device.status();
        if ((st & DeviceStatus.DRIVER_OK) == 0) {
            device.setStatus(st | DeviceStatus.DRIVER_OK);
        }
        device.setQueueReady(q, true);
        r.running = true;
        r.relay = KickRelay.start(device, q, r.kick, name);
        // Buffers made available before the kick eventfd existed are not lost.
        device.kick(q);
        LOG.debug("{}: vring {} started (size {}, base 0x{})", name, q, num, Integer.toHexString(r.base));
    }

    private static void checkAligned(long address, int alignment, String what, int q) throws Refused {
        if ((address & (alignment - 1)) != 0) {
            throw new Refused(Errno.EINVAL, String.format("%s of vring %d at 0x%x is not %d-byte aligned", what, q,
                    address, alignment));
        }
    }

    /** Stops ring q, keeping its position as the base GET_VRING_BASE answers. */
    private void stopRing(int q) {
        Ring r = rings[q];
        if (r.relay != null) {
            r.relay.stop();
            r.relay = null;
        }
        device.setQueueReady(q, false);
        r.base = encodeBase(device.queueState(q));
        r.running = false;
        LOG.debug("{}: vring {} stopped at base 0x{}", name, q, Integer.toHexString(r.base));
    }

    private void stopAllRings() {
        for (int q = 0; q < rings.length; q++) {
            if (rings[q].running) {
                stopRing(q);
            }
        }
    }

    private boolean anyRunning() {
        for (Ring r : rings) {
            if (r.running) {
                return true;
            }
        }
        return false;
    }

    /**
     * The vring base as vhost carries it: split, the next avail index; packed, the avail index and wrap
     * counter in bits 0-15 and the used ones in bits 16-31. A packed base with no used half (DPDK sends
     * only the avail half) means every buffer before the avail position was used.
     */
    static QueueState baseState(int base, boolean packed) {
        if (!packed) {
            return new SplitQueueState(base & HALF_MASK);
        }
        int availHalf = base & HALF_MASK;
        int usedHalf = base >>> HALF_SHIFT;
        return PackedQueueState.fromOffWrap(availHalf, usedHalf == 0 ? availHalf : usedHalf);
    }

    static int encodeBase(QueueState state) {
        return switch (state) {
            case SplitQueueState s -> s.availIndex();
            case PackedQueueState p -> p.availOffWrap() | (p.usedOffWrap() << HALF_SHIFT);
            default -> throw new IllegalStateException("unknown queue state " + state);
        };
    }

    // ---- Queue count and config ----

    private long queueNum(Message m) throws Refused {
        if (!ProtocolFeature.has(protocolFeatures, ProtocolFeature.MQ)) {
            throw new Refused(Errno.EOPNOTSUPP, "MQ was not negotiated");
        }
        // For net the front-end counts queue pairs; the control queue (after the pairs) it emulates itself.
        if (device.deviceId() == VirtioId.NET) {
            int pairs = 0;
            while (NetSpec.txQueue(pairs) < rings.length) {
                pairs++;
            }
            return Math.max(1, pairs);
        }
        return rings.length;
    }

    private MemorySegment getConfig(Message m) throws Refused {
        requireConfig();
        MemorySegment p = m.payload();
        if (p.byteSize() < Payloads.CONFIG_HEADER_SIZE || !m.fds().isEmpty()) {
            throw new Refused(Errno.EINVAL, "config payload of " + p.byteSize() + " bytes");
        }
        int offset = p.get(JAVA_INT_UNALIGNED, Payloads.CONFIG_OFFSET);
        int size = p.get(JAVA_INT_UNALIGNED, Payloads.CONFIG_SIZE);
        checkConfigRange(offset, size, Payloads.MAX_CONFIG_SIZE);
        expect(m, Payloads.CONFIG_HEADER_SIZE + (long) size, 0);
        MemorySegment reply = replyBuffer.asSlice(0, Payloads.CONFIG_HEADER_SIZE + (long) size);
        reply.copyFrom(p.asSlice(0, Payloads.CONFIG_HEADER_SIZE));
        MemorySegment data = reply.asSlice(Payloads.CONFIG_HEADER_SIZE);
        data.fill((byte) 0);
        // Fields past the device's config space (a front-end built for a newer layout) read as zero.
        int readable = Math.max(0, Math.min(size, device.configSize() - offset));
        if (readable > 0) {
            device.readConfig(offset, data.asSlice(0, readable));
        }
        return reply;
    }

    private boolean setConfig(Message m) throws Refused {
        requireConfig();
        MemorySegment p = m.payload();
        if (p.byteSize() < Payloads.CONFIG_HEADER_SIZE || !m.fds().isEmpty()) {
            throw new Refused(Errno.EINVAL, "config payload of " + p.byteSize() + " bytes");
        }
        int offset = p.get(JAVA_INT_UNALIGNED, Payloads.CONFIG_OFFSET);
        int size = p.get(JAVA_INT_UNALIGNED, Payloads.CONFIG_SIZE);
        checkConfigRange(offset, size, device.configSize());
        expect(m, Payloads.CONFIG_HEADER_SIZE + (long) size, 0);
        device.writeConfig(offset, p.asSlice(Payloads.CONFIG_HEADER_SIZE, size));
        return true;
    }

    private void requireConfig() throws Refused {
        if (!ProtocolFeature.has(protocolFeatures, ProtocolFeature.CONFIG)) {
            throw new Refused(Errno.EOPNOTSUPP, "CONFIG was not negotiated");
        }
    }

    private static void checkConfigRange(int offset, int size, int limit) throws Refused {
        if (offset < 0 || size <= 0 || offset > limit || size > limit - offset) {
            throw new Refused(Errno.EINVAL, "config range " + Integer.toUnsignedString(offset) + "+"
                    + Integer.toUnsignedString(size) + " is outside 0.." + limit);
        }
    }

    // ---- Device events and teardown ----

    /** The device changed its config or needs a reset: a broken ring is reported on the rings' error eventfds. */
    private void deviceChanged() {
        if ((device.status() & DeviceStatus.NEEDS_RESET) == 0) {
            return;
        }
        for (Ring r : rings) {
            EventFd err = r.err;
            if (err != null) {
                err.signal();
            }
        }
    }

    private void closeRingFds(Ring r) {
        if (r.relay != null) {
            r.relay.stop();
            r.relay = null;
        }
        for (EventFd e : new EventFd[] {r.kick, r.call, r.err}) {
            if (e != null) {
                e.close();
            }
        }
        r.kick = null;
        r.call = null;
        r.err = null;
    }

    /** Whether SET_OWNER was received. */
    public boolean owned() {
        return owned;
    }

    /**
     * The front-end went away: every ring stops, the device is reset (a parent's data, such as a disk,
     * is not the device's state and stays), memory and the log are unmapped, descriptors closed. A new
     * front-end sets everything up again.
     */
    @Override
    public void close() {
        stopAllRings();
        device.setConfigChangeListener(null);
        device.reset();
        device.setDirtyLog(null);
        setLog(null);
        for (Ring r : rings) {
            closeRingFds(r);
        }
        if (logFd != null) {
            logFd.close();
            logFd = null;
        }
        table.unmapAll();
        regions = new Region[0];
    }
}

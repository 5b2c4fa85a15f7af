package io.umdev.vfiouser.server;

import io.umdev.linux.Errno;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.dma.DmaException;
import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.vfiouser.irq.IrqIndex;
import io.umdev.vfiouser.protocol.Capabilities;
import io.umdev.vfiouser.protocol.Command;
import io.umdev.vfiouser.protocol.DeviceFeaturePayload;
import io.umdev.vfiouser.protocol.DeviceInfoPayload;
import io.umdev.vfiouser.protocol.DmaMapPayload;
import io.umdev.vfiouser.protocol.DmaUnmapPayload;
import io.umdev.vfiouser.protocol.IrqInfoPayload;
import io.umdev.vfiouser.protocol.IrqSetPayload;
import io.umdev.vfiouser.protocol.MigDataPayload;
import io.umdev.vfiouser.protocol.ProtocolException;
import io.umdev.vfiouser.protocol.RegionAccessPayload;
import io.umdev.vfiouser.protocol.RegionCapabilities;
import io.umdev.vfiouser.protocol.RegionCapability;
import io.umdev.vfiouser.protocol.RegionInfoPayload;
import io.umdev.vfiouser.protocol.RegionIoFdsPayload;
import io.umdev.vfiouser.protocol.WriteMultiPayload;
import io.umdev.vfiouser.transport.ReceivedMessage;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns one client command into device calls and a reply payload. Each handler validates its
 * message completely (sizes, argsz, flags, indexes, ranges, descriptor counts) before the device
 * sees it; a violation is a {@link ProtocolException} carrying the errno to answer.
 */
final class CommandHandler {
    private final VfioUserDevice device;
    private final DeviceInfo info;
    private final DmaTable dma;
    private final ServerOptions options;
    private final Capabilities client;
    private final boolean writeMultiple;
    /** Descriptors to send with the reply being built. */
    private final List<OwnedFd> replyFds = new ArrayList<>();

    CommandHandler(VfioUserDevice device, ServerOptions options, Capabilities client, boolean writeMultiple) {
        this.device = device;
        this.info = device.info();
        this.dma = device.dma();
        this.options = options;
        this.client = client;
        this.writeMultiple = writeMultiple;
    }

    /** The descriptors of the last reply built; cleared by the next {@link #handle}. */
    List<OwnedFd> replyFds() {
        return replyFds;
    }

    /**
     * Executes {@code command} and writes its reply payload into {@code reply}; returns the payload's
     * length. Descriptors the handler keeps are taken out of the message's list.
     */
    long handle(Command command, ReceivedMessage message, MemorySegment reply) throws ProtocolException {
        replyFds.clear();
        MemorySegment payload = message.payload();
        List<OwnedFd> fds = message.fds();
        if (command != Command.DMA_MAP && command != Command.DEVICE_SET_IRQS && !fds.isEmpty()) {
            throw ProtocolException.invalid("%s carries %d file descriptors, expected none", command, fds.size());
        }
        return switch (command) {
            case VERSION -> throw ProtocolException.invalid("VERSION was already negotiated");
            case DMA_MAP -> dmaMap(payload, fds);
            case DMA_UNMAP -> dmaUnmap(payload, reply);
            case DEVICE_GET_INFO -> deviceInfo(payload, reply);
            case DEVICE_GET_REGION_INFO -> regionInfo(payload, reply);
            case DEVICE_GET_REGION_IO_FDS -> regionIoFds(payload, reply);
            case DEVICE_GET_IRQ_INFO -> irqInfo(payload, reply);
            case DEVICE_SET_IRQS -> setIrqs(payload, fds);
            case REGION_READ -> regionRead(payload, reply);
            case REGION_WRITE -> regionWrite(payload, reply);
            case DMA_READ, DMA_WRITE -> throw ProtocolException.invalid("%s goes from server to client", command);
            case DEVICE_RESET -> deviceReset(payload);
            case REGION_WRITE_MULTI -> writeMulti(payload, reply);
            case DEVICE_FEATURE -> deviceFeature(payload, reply);
            case MIG_DATA_READ -> migDataRead(payload, reply);
            case MIG_DATA_WRITE -> migDataWrite(payload);
        };
    }

    private long dmaMap(MemorySegment payload, List<OwnedFd> fds) throws ProtocolException {
        DmaMapPayload p = DmaMapPayload.decode(payload);
        if ((p.flags() & ~DmaMapPayload.KNOWN_FLAGS) != 0) {
            throw ProtocolException.invalid("DMA_MAP flags 0x%x has unknown bits", p.flags());
        }
        if (fds.size() > 1) {
            throw ProtocolException.invalid("DMA_MAP carries %d file descriptors, at most 1", fds.size());
        }
        OwnedFd fd = null;
        if (!fds.isEmpty()) {
            fd = fds.set(0, null);
        }
        try {
            dma.map(p.iova(), p.size(), (p.flags() & DmaMapPayload.FLAG_READ) != 0,
                    (p.flags() & DmaMapPayload.FLAG_WRITE) != 0, fd, p.fileOffset());
        } catch (DmaException e) {
            throw new ProtocolException(e.errno(), e.getMessage());
        }
        return 0;
    }

    private long dmaUnmap(MemorySegment payload, MemorySegment reply) throws ProtocolException {
        DmaUnmapPayload p = DmaUnmapPayload.decode(payload);
        if ((p.flags() & ~DmaUnmapPayload.KNOWN_FLAGS) != 0) {
            throw ProtocolException.invalid("DMA_UNMAP flags 0x%x has unknown bits", p.flags());
        }
        if ((p.flags() & DmaUnmapPayload.FLAG_GET_DIRTY_BITMAP) != 0) {
            throw new ProtocolException(Errno.EOPNOTSUPP, "DMA_UNMAP dirty bitmaps are not offered");
        }
        try {
            if ((p.flags() & DmaUnmapPayload.FLAG_ALL) != 0) {
                if (p.iova() != 0 || p.size() != 0) {
                    throw ProtocolException.invalid("DMA_UNMAP of all ranges must give address and size 0");
                }
                dma.unmapAll();
            } else {
                dma.unmap(p.iova(), p.size());
            }
        } catch (DmaException e) {
            throw new ProtocolException(e.errno(), e.getMessage());
        }
        return new DmaUnmapPayload((int) DmaUnmapPayload.LAYOUT.byteSize(), p.flags(), p.iova(), p.size()).encode(reply);
    }

    private long deviceInfo(MemorySegment payload, MemorySegment reply) throws ProtocolException {
        DeviceInfoPayload.decode(payload);
        return new DeviceInfoPayload((int) DeviceInfoPayload.LAYOUT.byteSize(), info.flags(), info.numRegions(),
                info.numIrqs()).encode(reply);
    }

    private int regionIndex(int index) throws ProtocolException {
        if (Integer.toUnsignedLong(index) >= info.numRegions()) {
            throw ProtocolException.invalid("region %d does not exist (the device has %d)",
                    Integer.toUnsignedLong(index), info.numRegions());
        }
        return index;
    }

    private int irqIndex(int index) throws ProtocolException {
        if (Integer.toUnsignedLong(index) >= info.numIrqs()) {
            throw ProtocolException.invalid("IRQ index %d does not exist (the device has %d)",
                    Integer.toUnsignedLong(index), info.numIrqs());
        }
        return index;
    }

    private long regionInfo(MemorySegment payload, MemorySegment reply) throws ProtocolException {
        RegionInfoPayload p = RegionInfoPayload.decode(payload);
        int index = regionIndex(p.index());
        Region region = device.region(index);
        int flags = region.flags() & (RegionInfoPayload.FLAG_READ | RegionInfoPayload.FLAG_WRITE
                | RegionInfoPayload.FLAG_MMAP);
        OwnedFd fd = region.mmapFd();
        // Without a descriptor the client could receive, a region is not mappable for this client.
        boolean mappable = (flags & RegionInfoPayload.FLAG_MMAP) != 0 && fd != null && client.maxMsgFds() >= 1;
        List<RegionCapability> caps = new ArrayList<>();
        for (RegionCapability c : region.capabilities()) {
            if (mappable || !(c instanceof RegionCapability.SparseMmap)) {
                caps.add(c);
            }
        }
        if (!mappable) {
            flags &= ~RegionInfoPayload.FLAG_MMAP;
        }
        long head = RegionInfoPayload.LAYOUT.byteSize();
        long full = head + RegionCapabilities.chainSize(caps);
        // When the chain does not fit, only argsz says so: QEMU's client rejects FLAG_CAPS with no chain.
        boolean capsFit = !caps.isEmpty() && Integer.toUnsignedLong(p.argsz()) >= full;
        if (capsFit) {
            flags |= RegionInfoPayload.FLAG_CAPS;
            RegionCapabilities.encodeChain(caps, reply, head);
        }
        new RegionInfoPayload((int) full, flags, index, capsFit ? (int) head : 0, region.size(),
                region.mmapOffset()).encode(reply);
        if (mappable) {
            replyFds.add(fd);
        }
        return capsFit ? full : head;
    }

    private long regionIoFds(MemorySegment payload, MemorySegment reply) throws ProtocolException {
        RegionIoFdsPayload p = RegionIoFdsPayload.decode(payload);
        if (p.flags() != 0) {
            throw ProtocolException.invalid("DEVICE_GET_REGION_IO_FDS flags must be 0, not 0x%x", p.flags());
        }
        int index = regionIndex(p.index());
        List<IoFd> ioFds = device.region(index).ioFds();
        Map<OwnedFd, Integer> fdIndexes = new IdentityHashMap<>();
        for (IoFd io : ioFds) {
            fdIndexes.putIfAbsent(io.fd(), fdIndexes.size());
        }
        if (fdIndexes.size() > client.maxMsgFds()) {
            throw new ProtocolException(Errno.E2BIG, String.format(
                    "region %d has %d doorbell fds, more than the client accepts in one message (%d)",
                    index, fdIndexes.size(), client.maxMsgFds()));
        }
        long full = RegionIoFdsPayload.LAYOUT.byteSize() + ioFds.size() * RegionIoFdsPayload.SUBREGION.byteSize();
        if (full > reply.byteSize()) {
            throw new ProtocolException(Errno.E2BIG, "region " + index + " has too many doorbells for one reply");
        }
        new RegionIoFdsPayload((int) full, 0, index, ioFds.size()).encode(reply);
        if (Integer.toUnsignedLong(p.argsz()) < full) {
            // Too small: say how much is needed, send no entries and no descriptors.
            return RegionIoFdsPayload.LAYOUT.byteSize();
        }
        for (int i = 0; i < ioFds.size(); i++) {
            IoFd io = ioFds.get(i);
            RegionIoFdsPayload.encodeSubregion(reply, i, new RegionIoFdsPayload.Subregion(io.offset(), io.size(),
                    fdIndexes.get(io.fd()), io.type(), io.flags(), io.datamatch()));
        }
        OwnedFd[] ordered = new OwnedFd[fdIndexes.size()];
        fdIndexes.forEach((fd, i) -> ordered[i] = fd);
        replyFds.addAll(List.of(ordered));
        return full;
    }

    private long irqInfo(MemorySegment payload, MemorySegment reply) throws ProtocolException {
        IrqInfoPayload p = IrqInfoPayload.decode(payload);
        int index = irqIndex(p.index());
        IrqIndex irq = device.irq(index);
        return new IrqInfoPayload((int) IrqInfoPayload.LAYOUT.byteSize(), irq.infoFlags(), index, irq.count())
                .encode(reply);
    }

    private long setIrqs(MemorySegment payload, List<OwnedFd> fds) throws ProtocolException {
        IrqSetPayload p = IrqSetPayload.decode(payload);
        device.irq(irqIndex(p.index())).apply(p, fds);
        return 0;
    }

    /** Checks an access of {@code count} bytes at {@code offset} of region {@code index}. */
    private Region accessibleRegion(int index, long offset, long count, int neededFlag) throws ProtocolException {
        Region region = device.region(regionIndex(index));
        if ((region.flags() & neededFlag) == 0) {
            throw ProtocolException.invalid("region %d does not allow %s", index,
                    neededFlag == RegionInfoPayload.FLAG_READ ? "reads" : "writes");
        }
        if (count == 0) {
            throw ProtocolException.invalid("region %d access of 0 bytes", index);
        }
        if (count > options.maxDataXferSize()) {
            throw new ProtocolException(Errno.E2BIG, String.format("region access of %d bytes exceeds max_data_xfer_size %d",
                    count, options.maxDataXferSize()));
        }
        long size = region.size();
        if (Long.compareUnsigned(offset, size) > 0 || count > size - offset) {
            throw ProtocolException.invalid("region %d access [0x%x, +%d) is outside its 0x%x bytes",
                    index, offset, count, size);
        }
        return region;
    }

    private long regionRead(MemorySegment payload, MemorySegment reply) throws ProtocolException {
        RegionAccessPayload p = RegionAccessPayload.decode(payload);
        if (p.data().byteSize() != 0) {
            throw ProtocolException.invalid("REGION_READ request carries %d data bytes", p.data().byteSize());
        }
        Region region = accessibleRegion(p.region(), p.offset(), p.byteCount(), RegionInfoPayload.FLAG_READ);
        MemorySegment data = reply.asSlice(RegionAccessPayload.DATA_OFFSET, p.byteCount());
        int errno = region.read(p.offset(), data);
        if (errno != Errno.OK) {
            throw new ProtocolException(errno, "region " + p.region() + " read failed");
        }
        RegionAccessPayload.encodeHead(reply, p.offset(), p.region(), p.count());
        return RegionAccessPayload.DATA_OFFSET + p.byteCount();
    }

    private long regionWrite(MemorySegment payload, MemorySegment reply) throws ProtocolException {
        RegionAccessPayload p = RegionAccessPayload.decode(payload);
        if (p.data().byteSize() != p.byteCount()) {
            throw ProtocolException.invalid("REGION_WRITE of %d bytes carries %d", p.byteCount(), p.data().byteSize());
        }
        Region region = accessibleRegion(p.region(), p.offset(), p.byteCount(), RegionInfoPayload.FLAG_WRITE);
        int errno = region.write(p.offset(), p.data());
        if (errno != Errno.OK) {
            throw new ProtocolException(errno, "region " + p.region() + " write failed");
        }
        return RegionAccessPayload.encodeHead(reply, p.offset(), p.region(), p.count());
    }

    private long deviceReset(MemorySegment payload) throws ProtocolException {
        if (payload.byteSize() != 0) {
            throw ProtocolException.invalid("DEVICE_RESET carries a %d-byte payload", payload.byteSize());
        }
        if ((info.flags() & DeviceInfoPayload.FLAG_RESET) == 0) {
            throw new ProtocolException(Errno.EOPNOTSUPP, "the device does not support reset");
        }
        int errno = device.reset();
        if (errno != Errno.OK) {
            throw new ProtocolException(errno, "device reset failed");
        }
        return 0;
    }

    private long writeMulti(MemorySegment payload, MemorySegment reply) throws ProtocolException {
        if (!writeMultiple) {
            throw ProtocolException.invalid("REGION_WRITE_MULTI was not negotiated");
        }
        int count = WriteMultiPayload.count(payload);
        for (int i = 0; i < count; i++) {
            WriteMultiPayload.Write w = WriteMultiPayload.write(payload, i);
            Region region = accessibleRegion(w.region(), w.offset(), w.count(), RegionInfoPayload.FLAG_WRITE);
            int errno = region.write(w.offset(), w.data());
            if (errno != Errno.OK) {
                throw new ProtocolException(errno, "coalesced write " + i + " to region " + w.region() + " failed");
            }
        }
        return WriteMultiPayload.encodeCount(reply, count);
    }

    private long deviceFeature(MemorySegment payload, MemorySegment reply) throws ProtocolException {
        DeviceFeaturePayload p = DeviceFeaturePayload.decode(payload);
        int flags = p.flags();
        if ((flags & ~DeviceFeaturePayload.KNOWN_FLAGS) != 0) {
            throw ProtocolException.invalid("DEVICE_FEATURE flags 0x%x has unknown bits", flags);
        }
        boolean get = (flags & DeviceFeaturePayload.GET) != 0;
        boolean set = (flags & DeviceFeaturePayload.SET) != 0;
        boolean probe = (flags & DeviceFeaturePayload.PROBE) != 0;
        if (!get && !set && !probe) {
            throw ProtocolException.invalid("DEVICE_FEATURE needs GET, SET or PROBE");
        }
        if (get && set && !probe) {
            throw ProtocolException.invalid("DEVICE_FEATURE GET and SET together need PROBE");
        }
        long head = DeviceFeaturePayload.LAYOUT.byteSize();
        long room = Math.min(Integer.toUnsignedLong(p.argsz()), reply.byteSize()) - head;
        MemorySegment out = reply.asSlice(head, Math.max(0, room));
        long result = device.feature(flags, p.data(), get && !probe ? out : out.asSlice(0, 0));
        if (result < 0) {
            throw new ProtocolException((int) -result, "device feature " + p.feature() + " refused");
        }
        if (get && !probe) {
            if (result > out.byteSize()) {
                throw new ProtocolException(Errno.E2BIG, "device feature data exceeds the client's argsz");
            }
            return new DeviceFeaturePayload((int) (head + result), flags, out.asSlice(0, result)).encode(reply);
        }
        return new DeviceFeaturePayload(p.argsz(), flags, p.data()).encode(reply);
    }

    private long migDataRead(MemorySegment payload, MemorySegment reply) throws ProtocolException {
        MigDataPayload p = MigDataPayload.decode(payload);
        if (p.data().byteSize() != 0) {
            throw ProtocolException.invalid("MIG_DATA_READ request carries %d data bytes", p.data().byteSize());
        }
        long size = p.byteCount();
        if (size > options.maxDataXferSize()) {
            throw new ProtocolException(Errno.E2BIG, "MIG_DATA_READ of " + size + " bytes exceeds max_data_xfer_size");
        }
        if (Integer.toUnsignedLong(p.argsz()) < MigDataPayload.DATA_OFFSET + size) {
            throw ProtocolException.invalid("MIG_DATA_READ argsz %d cannot hold %d bytes",
                    Integer.toUnsignedLong(p.argsz()), size);
        }
        long n = device.migrationDataRead(reply.asSlice(MigDataPayload.DATA_OFFSET, size));
        if (n < 0) {
            throw new ProtocolException((int) -n, "migration data read refused");
        }
        if (n > size) {
            throw new ProtocolException(Errno.EIO, "device produced more migration data than asked");
        }
        return MigDataPayload.encodeHead(reply, (int) (MigDataPayload.DATA_OFFSET + n), (int) n) + n;
    }

    private long migDataWrite(MemorySegment payload) throws ProtocolException {
        MigDataPayload p = MigDataPayload.decode(payload);
        if (p.data().byteSize() != p.byteCount()) {
            throw ProtocolException.invalid("MIG_DATA_WRITE of %d bytes carries %d", p.byteCount(), p.data().byteSize());
        }
        int errno = device.migrationDataWrite(p.data());
        if (errno != Errno.OK) {
            throw new ProtocolException(errno, "migration data write refused");
        }
        return 0;
    }
}

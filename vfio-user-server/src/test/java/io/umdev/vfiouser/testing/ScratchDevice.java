package io.umdev.vfiouser.testing;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.LinuxException;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.dma.DmaException;
import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.vfiouser.irq.IrqIndex;
import io.umdev.vfiouser.protocol.DeviceFeaturePayload;
import io.umdev.vfiouser.protocol.DeviceInfoPayload;
import io.umdev.vfiouser.protocol.IrqInfoPayload;
import io.umdev.vfiouser.protocol.RegionCapability;
import io.umdev.vfiouser.protocol.RegionInfoPayload;
import io.umdev.vfiouser.protocol.RegionIoFdsPayload;
import io.umdev.vfiouser.server.ClientSession;
import io.umdev.vfiouser.server.DeviceInfo;
import io.umdev.vfiouser.server.IoFd;
import io.umdev.vfiouser.server.Region;
import io.umdev.vfiouser.server.VfioUserDevice;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small but real device for testing the server: a register BAR with a DMA engine and an interrupt
 * doorbell, a memfd-backed mappable BAR with sparse areas, ioeventfd doorbells, config space and the
 * five PCI IRQ indexes.
 *
 * <p>BAR0 registers (8 bytes each): {@link #REG_SRC}, {@link #REG_DST}, {@link #REG_LEN}; writing
 * {@link #REG_GO} copies LEN bytes of client memory from SRC to DST on the connection's thread (1) or on
 * a device thread (2), then raises MSI-X vector {@link #DONE_VECTOR}; {@link #REG_STATUS} reads 0 after
 * a good copy, else the errno. Writing a vector number to {@link #REG_IRQ} raises that MSI-X vector.
 */
public final class ScratchDevice implements VfioUserDevice, AutoCloseable {
    public static final int BAR0 = 0;
    public static final int BAR1 = 1;
    public static final int CONFIG = 7;
    public static final int NUM_REGIONS = 9;
    public static final int NUM_IRQS = 5;
    public static final int INTX = 0;
    public static final int MSI = 1;
    public static final int MSIX = 2;
    public static final int MSIX_VECTORS = 20;

    public static final long BAR0_SIZE = 4096;
    public static final long REG_SRC = 0x00;
    public static final long REG_DST = 0x08;
    public static final long REG_LEN = 0x10;
    public static final long REG_GO = 0x18;
    public static final long REG_STATUS = 0x20;
    public static final long REG_IRQ = 0x28;
    public static final long GO_INLINE = 1;
    public static final long GO_DEVICE_THREAD = 2;
    public static final int DONE_VECTOR = 0;
    /** Two doorbells in BAR0 that a client may wire to ioeventfds. */
    public static final long DOORBELL_A = 0x100;
    public static final long DOORBELL_B = 0x104;

    public static final long BAR1_SIZE = 64 * 1024;
    /** BAR1's mmap-able windows; the first page stays trapped (served by message). */
    public static final List<RegionCapability.Area> BAR1_AREAS = List.of(
            new RegionCapability.Area(4096, 4096), new RegionCapability.Area(8192, BAR1_SIZE - 8192));
    public static final long CONFIG_SIZE = 256;
    public static final int FEATURE_SCRATCH = 1;
    public static final int MAX_DMA_MAPS = 8;

    private final DmaTable dma = new DmaTable(MAX_DMA_MAPS);
    private final MemorySegment registers = MemorySegment.ofArray(new byte[(int) BAR0_SIZE]);
    private final MemorySegment config = MemorySegment.ofArray(new byte[(int) CONFIG_SIZE]);
    private final OwnedFd bar1Fd;
    private final MappedMemory bar1;
    private final EventFd doorbellA;
    private final EventFd doorbellB;
    private final IrqIndex[] irqs = {
        new IrqIndex(1, IrqInfoPayload.FLAG_EVENTFD | IrqInfoPayload.FLAG_MASKABLE | IrqInfoPayload.FLAG_AUTOMASKED),
        new IrqIndex(1, IrqInfoPayload.FLAG_EVENTFD | IrqInfoPayload.FLAG_NORESIZE),
        new IrqIndex(MSIX_VECTORS, IrqInfoPayload.FLAG_EVENTFD | IrqInfoPayload.FLAG_NORESIZE | IrqInfoPayload.FLAG_MASKABLE),
        new IrqIndex(1, IrqInfoPayload.FLAG_EVENTFD),
        new IrqIndex(1, IrqInfoPayload.FLAG_EVENTFD),
    };
    private final Region[] regions = new Region[NUM_REGIONS];
    private final ByteArrayOutputStream migration = new ByteArrayOutputStream();
    private final AtomicInteger resets = new AtomicInteger();
    private final AtomicInteger connects = new AtomicInteger();
    private final AtomicInteger disconnects = new AtomicInteger();
    private final AtomicLong lastStatus = new AtomicLong();

    public ScratchDevice() throws LinuxException {
        bar1Fd = Memfd.create("scratch-bar1", BAR1_SIZE);
        bar1 = MappedMemory.map(bar1Fd, 0, BAR1_SIZE, true);
        doorbellA = EventFd.createNonBlocking();
        doorbellB = EventFd.createNonBlocking();
        for (int i = 0; i < NUM_REGIONS; i++) {
            regions[i] = Region.absent();
        }
        regions[BAR0] = new Bar0();
        regions[BAR1] = new Bar1();
        regions[CONFIG] = new ArrayRegion(config);
    }

    @Override
    public DeviceInfo info() {
        return new DeviceInfo(DeviceInfoPayload.FLAG_RESET | DeviceInfoPayload.FLAG_PCI, NUM_REGIONS, NUM_IRQS);
    }

    @Override
    public Region region(int index) {
        return regions[index];
    }

    @Override
    public IrqIndex irq(int index) {
        return irqs[index];
    }

    @Override
    public DmaTable dma() {
        return dma;
    }

    @Override
    public int reset() {
        resets.incrementAndGet();
        registers.fill((byte) 0);
        return Errno.OK;
    }

    @Override
    public long feature(int flags, MemorySegment data, MemorySegment out) {
        if ((flags & DeviceFeaturePayload.FEATURE_MASK) != FEATURE_SCRATCH) {
            return -Errno.ENOTTY;
        }
        if ((flags & DeviceFeaturePayload.PROBE) != 0) {
            return 0;
        }
        if ((flags & DeviceFeaturePayload.GET) != 0) {
            if (out.byteSize() < Long.BYTES) {
                return Long.BYTES; // what it takes: the server answers E2BIG
            }
            out.set(JAVA_LONG_UNALIGNED, 0, 0x5ca7c4L);
            return Long.BYTES;
        }
        return data.byteSize() == Long.BYTES ? 0 : -Errno.EINVAL;
    }

    @Override
    public synchronized long migrationDataRead(MemorySegment out) {
        byte[] all = migration.toByteArray();
        int n = (int) Math.min(all.length, out.byteSize());
        MemorySegment.copy(MemorySegment.ofArray(all), 0, out, 0, n);
        migration.reset();
        migration.write(all, n, all.length - n);
        return n;
    }

    @Override
    public synchronized int migrationDataWrite(MemorySegment data) {
        migration.writeBytes(data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        return Errno.OK;
    }

    @Override
    public void connected(ClientSession session) {
        connects.incrementAndGet();
    }

    @Override
    public void disconnected(ClientSession session) {
        disconnects.incrementAndGet();
    }

    public int resets() {
        return resets.get();
    }

    public int connects() {
        return connects.get();
    }

    public int disconnects() {
        return disconnects.get();
    }

    /** BAR1 as this device sees it: the same memory the client mmaps. */
    public MemorySegment bar1() {
        return bar1.segment();
    }

    public EventFd doorbellA() {
        return doorbellA;
    }

    public EventFd doorbellB() {
        return doorbellB;
    }

    public MemorySegment registers() {
        return registers;
    }

    /** The status of the last DMA copy: 0, or the errno it failed with. */
    public long lastStatus() {
        return lastStatus.get();
    }

    private void copy() {
        long src = registers.get(JAVA_LONG_UNALIGNED, REG_SRC);
        long dst = registers.get(JAVA_LONG_UNALIGNED, REG_DST);
        long len = registers.get(JAVA_LONG_UNALIGNED, REG_LEN);
        long status = Errno.OK;
        if (len < 0 || len > BAR1_SIZE) {
            status = Errno.EINVAL;
        } else {
            MemorySegment buffer = MemorySegment.ofArray(new byte[(int) len]);
            try {
                dma.read(src, buffer);
                dma.write(dst, buffer);
            } catch (DmaException e) {
                status = e.errno();
            }
        }
        registers.set(JAVA_LONG_UNALIGNED, REG_STATUS, status);
        lastStatus.set(status);
        irqs[MSIX].trigger(DONE_VECTOR);
    }

    @Override
    public void close() {
        dma.close();
        bar1.close();
        bar1Fd.close();
        doorbellA.close();
        doorbellB.close();
        for (IrqIndex irq : irqs) {
            irq.reset();
        }
    }

    /** Registers served by handlers; GO and IRQ act. */
    private final class Bar0 implements Region {
        @Override
        public long size() {
            return BAR0_SIZE;
        }

        @Override
        public int flags() {
            return RegionInfoPayload.FLAG_READ | RegionInfoPayload.FLAG_WRITE;
        }

        @Override
        public int read(long offset, MemorySegment dst) {
            MemorySegment.copy(registers, offset, dst, 0, dst.byteSize());
            return Errno.OK;
        }

        @Override
        public int write(long offset, MemorySegment src) {
            MemorySegment.copy(src, 0, registers, offset, src.byteSize());
            if (offset == REG_GO && src.byteSize() == Long.BYTES) {
                long mode = src.get(JAVA_LONG_UNALIGNED, 0);
                if (mode == GO_INLINE) {
                    copy();
                } else if (mode == GO_DEVICE_THREAD) {
                    Thread.ofPlatform().name("scratch-dma").daemon(true).start(ScratchDevice.this::copy);
                } else {
                    return Errno.EINVAL;
                }
            } else if (offset == REG_IRQ && src.byteSize() == Long.BYTES) {
                irqs[MSIX].trigger((int) src.get(JAVA_LONG_UNALIGNED, 0));
            }
            return Errno.OK;
        }

        @Override
        public List<IoFd> ioFds() {
            return List.of(
                    new IoFd(DOORBELL_A, 4, doorbellA.fd(), RegionIoFdsPayload.TYPE_IOEVENTFD, 0, 0),
                    new IoFd(DOORBELL_B, 4, doorbellB.fd(), RegionIoFdsPayload.TYPE_IOEVENTFD,
                            RegionIoFdsPayload.IOEVENTFD_FLAG_DATAMATCH, 0x1234));
        }
    }

    /** Shared memory: mappable where the sparse areas say, served by message everywhere. */
    private final class Bar1 implements Region {
        @Override
        public long size() {
            return BAR1_SIZE;
        }

        @Override
        public int flags() {
            return RegionInfoPayload.FLAG_READ | RegionInfoPayload.FLAG_WRITE | RegionInfoPayload.FLAG_MMAP;
        }

        @Override
        public OwnedFd mmapFd() {
            return bar1Fd;
        }

        @Override
        public List<RegionCapability> capabilities() {
            return List.of(new RegionCapability.SparseMmap(BAR1_AREAS), new RegionCapability.RegionType(0x1af4, 7));
        }

        @Override
        public int read(long offset, MemorySegment dst) {
            MemorySegment.copy(bar1.segment(), offset, dst, 0, dst.byteSize());
            return Errno.OK;
        }

        @Override
        public int write(long offset, MemorySegment src) {
            MemorySegment.copy(src, 0, bar1.segment(), offset, src.byteSize());
            return Errno.OK;
        }
    }

    /** A plain read/write byte array (config space). */
    private static final class ArrayRegion implements Region {
        private final MemorySegment bytes;

        ArrayRegion(MemorySegment bytes) {
            this.bytes = bytes;
        }

        @Override
        public long size() {
            return bytes.byteSize();
        }

        @Override
        public int flags() {
            return RegionInfoPayload.FLAG_READ | RegionInfoPayload.FLAG_WRITE;
        }

        @Override
        public int read(long offset, MemorySegment dst) {
            MemorySegment.copy(bytes, offset, dst, 0, dst.byteSize());
            return Errno.OK;
        }

        @Override
        public int write(long offset, MemorySegment src) {
            MemorySegment.copy(src, 0, bytes, offset, src.byteSize());
            return Errno.OK;
        }
    }
}

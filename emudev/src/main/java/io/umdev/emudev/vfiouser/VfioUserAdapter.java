package io.umdev.emudev.vfiouser;

import io.umdev.emudev.Bar;
import io.umdev.emudev.DeviceInterrupts;
import io.umdev.emudev.Doorbell;
import io.umdev.emudev.EmuDevice;
import io.umdev.emudev.pci.PciBar;
import io.umdev.emudev.pci.PciConfigSpace;
import io.umdev.emudev.pci.PciRegisters;
import io.umdev.linux.Errno;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.vfiouser.irq.IrqIndex;
import io.umdev.vfiouser.protocol.DeviceInfoPayload;
import io.umdev.vfiouser.protocol.RegionCapability;
import io.umdev.vfiouser.protocol.RegionInfoPayload;
import io.umdev.vfiouser.protocol.RegionIoFdsPayload;
import io.umdev.vfiouser.server.ClientSession;
import io.umdev.vfiouser.server.DeviceInfo;
import io.umdev.vfiouser.server.IoFd;
import io.umdev.vfiouser.server.Region;
import io.umdev.vfiouser.server.VfioUserDevice;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves an {@link EmuDevice} through the vfio-user server. Regions follow the VFIO PCI indexes: BARs
 * 0-5 (the upper half of a 64-bit BAR, like any unused BAR, has size 0), no expansion ROM (6), config
 * space (7), no VGA (8). A BAR with shared memory is mmap-able where the device marked it so (sparse
 * mmap areas over the BAR's memfd). IRQ indexes are the device's INTx, MSI, MSI-X, ERR and REQ. The
 * device starts when a client connects and stops when it leaves (after which the server resets it).
 */
public final class VfioUserAdapter implements VfioUserDevice {
    private static final Logger LOG = LoggerFactory.getLogger(VfioUserAdapter.class);

    /** VFIO PCI region indexes. */
    public static final int ROM_REGION = 6;
    public static final int CONFIG_REGION = 7;
    public static final int VGA_REGION = 8;
    public static final int NUM_REGIONS = 9;

    private final EmuDevice device;
    private final Region[] regions = new Region[NUM_REGIONS];

    public VfioUserAdapter(EmuDevice device) {
        this.device = device;
        for (int i = 0; i < NUM_REGIONS; i++) {
            regions[i] = Region.absent();
        }
        for (int i = 0; i < PciRegisters.BAR_COUNT; i++) {
            Bar bar = device.bar(i);
            if (bar != null) {
                regions[i] = new BarRegion(bar);
            }
        }
        regions[CONFIG_REGION] = new ConfigRegion(device.config());
    }

    public EmuDevice device() {
        return device;
    }

    @Override
    public DeviceInfo info() {
        return new DeviceInfo(DeviceInfoPayload.FLAG_RESET | DeviceInfoPayload.FLAG_PCI, NUM_REGIONS,
                DeviceInterrupts.INDEX_COUNT);
    }

    @Override
    public Region region(int index) {
        return regions[index];
    }

    @Override
    public IrqIndex irq(int index) {
        return device.interrupts().index(index);
    }

    @Override
    public DmaTable dma() {
        return device.dma();
    }

    @Override
    public int reset() {
        device.reset();
        return Errno.OK;
    }

    @Override
    public void connected(ClientSession session) {
        if (device.state() == EmuDevice.State.CONFIGURED || device.state() == EmuDevice.State.STOPPED) {
            device.start();
        } else {
            LOG.warn("{}: client connected while the device is {}", device.name(), device.state());
        }
    }

    @Override
    public void disconnected(ClientSession session) {
        if (device.state() == EmuDevice.State.RUNNING) {
            device.stop();
        }
    }

    /** A BAR: handlers and shared memory as the device built it. */
    private static final class BarRegion implements Region {
        private final Bar bar;
        private final int flags;
        private final List<RegionCapability> capabilities;
        private final List<IoFd> ioFds;

        BarRegion(Bar bar) {
            this.bar = bar;
            boolean mappable = bar.memory() != null && !bar.mappableAreas().isEmpty();
            this.flags = RegionInfoPayload.FLAG_READ | RegionInfoPayload.FLAG_WRITE
                    | (mappable ? RegionInfoPayload.FLAG_MMAP : 0);
            List<RegionCapability.Area> areas = new ArrayList<>();
            for (Bar.MappableArea a : bar.mappableAreas()) {
                areas.add(new RegionCapability.Area(a.offset(), a.length()));
            }
            this.capabilities = mappable ? List.of(new RegionCapability.SparseMmap(areas)) : List.of();
            List<IoFd> fds = new ArrayList<>();
            for (Doorbell d : bar.doorbells()) {
                if (d instanceof Doorbell.EventFdDoorbell e) {
                    boolean match = e.datamatch() != null;
                    fds.add(new IoFd(e.offset(), e.width(), e.eventFd().fd(), RegionIoFdsPayload.TYPE_IOEVENTFD,
                            match ? RegionIoFdsPayload.IOEVENTFD_FLAG_DATAMATCH : 0, match ? e.datamatch() : 0));
                }
            }
            this.ioFds = List.copyOf(fds);
            if (bar.shape().kind() == PciBar.Kind.IO && mappable) {
                throw new IllegalArgumentException("an I/O BAR cannot be mmap-able");
            }
        }

        @Override
        public long size() {
            return bar.size();
        }

        @Override
        public int flags() {
            return flags;
        }

        @Override
        public OwnedFd mmapFd() {
            return (flags & RegionInfoPayload.FLAG_MMAP) != 0 ? bar.memoryFd() : null;
        }

        @Override
        public List<RegionCapability> capabilities() {
            return capabilities;
        }

        @Override
        public int read(long offset, MemorySegment dst) {
            return bar.read(offset, dst);
        }

        @Override
        public int write(long offset, MemorySegment src) {
            return bar.write(offset, src);
        }

        @Override
        public List<IoFd> ioFds() {
            return ioFds;
        }
    }

    /** Configuration space, with its read-only and write-1-to-clear semantics. */
    private record ConfigRegion(PciConfigSpace config) implements Region {
        @Override
        public long size() {
            return config.size();
        }

        @Override
        public int flags() {
            return RegionInfoPayload.FLAG_READ | RegionInfoPayload.FLAG_WRITE;
        }

        @Override
        public int read(long offset, MemorySegment dst) {
            config.read((int) offset, dst);
            return Errno.OK;
        }

        @Override
        public int write(long offset, MemorySegment src) {
            config.write((int) offset, src);
            return Errno.OK;
        }
    }
}

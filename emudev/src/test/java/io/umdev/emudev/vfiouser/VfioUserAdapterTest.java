package io.umdev.emudev.vfiouser;

import static io.umdev.emudev.pci.PciRegisters.*;
import static io.umdev.emudev.sample.DmaEngine.*;
import static io.umdev.emudev.testing.ClientIrqs.awaitSignals;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.emudev.Bar;
import io.umdev.emudev.DeviceInterrupts;
import io.umdev.emudev.EmuDevice;
import io.umdev.emudev.EmuDeviceListener;
import io.umdev.emudev.pci.PciIds;
import io.umdev.emudev.pci.PciRegisters;
import io.umdev.emudev.sample.DmaEngine;
import io.umdev.emudev.testing.ClientIrqs;
import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.client.RegionInfo;
import io.umdev.vfiouser.client.RegionIoFds;
import io.umdev.vfiouser.client.VfioUserClient;
import io.umdev.vfiouser.client.VfioUserException;
import io.umdev.vfiouser.protocol.DeviceInfoPayload;
import io.umdev.vfiouser.protocol.DmaMapPayload;
import io.umdev.vfiouser.protocol.IrqInfoPayload;
import io.umdev.vfiouser.protocol.RegionCapability;
import io.umdev.vfiouser.protocol.RegionInfoPayload;
import io.umdev.vfiouser.protocol.RegionIoFdsPayload;
import io.umdev.vfiouser.server.ServerOptions;
import io.umdev.vfiouser.server.VfioUserServer;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sample DMA engine served by {@link VfioUserAdapter} through a real server, driven by the real
 * client over a Unix socket: what a vfio-user client such as QEMU sees and does.
 */
class VfioUserAdapterTest {
    private static final int RW = DmaMapPayload.FLAG_READ | DmaMapPayload.FLAG_WRITE;
    private static final long RAM_IOVA = 0x40000000L;
    private static final long RAM_SIZE = 4 << 20;
    private static final int CONFIG = VfioUserAdapter.CONFIG_REGION;

    @TempDir
    Path dir;

    private DmaEngine engine;
    private EmuDevice device;
    private VfioUserServer server;
    private final ClientIrqs irqs = new ClientIrqs();
    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        engine = new DmaEngine("dma-adapter");
        device = engine.device();
        server = VfioUserServer.start(dir.resolve("dma.sock"), new VfioUserAdapter(device), ServerOptions.defaults());
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
        server.close();
        engine.close();
        irqs.close();
    }

    private <T extends AutoCloseable> T closeLater(T resource) {
        cleanup.add(resource);
        return resource;
    }

    private VfioUserClient connect() throws IOException {
        return closeLater(VfioUserClient.connect(server.socketPath()));
    }

    private static MemorySegment le(int length, long value) {
        MemorySegment s = MemorySegment.ofArray(new byte[length]);
        for (int i = 0; i < length; i++) {
            s.set(JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        return s;
    }

    private static long value(MemorySegment s) {
        long v = 0;
        for (int i = 0; i < s.byteSize(); i++) {
            v |= (s.get(JAVA_BYTE, i) & 0xffL) << (8 * i);
        }
        return v;
    }

    private static long read(VfioUserClient client, int region, long offset, int length) throws IOException {
        return value(client.regionRead(region, offset, length));
    }

    private static void write(VfioUserClient client, int region, long offset, int length, long value) throws IOException {
        client.regionWrite(region, offset, le(length, value));
    }

    private static void assertErrno(int errno, ThrowingRunnable action) {
        VfioUserException e = assertThrows(VfioUserException.class, action::run);
        assertEquals(Errno.name(errno), Errno.name(e.errno()), e.getMessage());
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** Guest RAM as QEMU provides it: a memfd this side maps and passes to the server. */
    private MappedMemory mapRam(VfioUserClient client) throws Exception {
        OwnedFd fd = closeLater(Memfd.create("adapter-guest-ram", RAM_SIZE));
        MappedMemory ram = closeLater(MappedMemory.map(fd, 0, RAM_SIZE, true));
        client.dmaMap(RAM_IOVA, RAM_SIZE, RW, fd, 0, ram.segment());
        return ram;
    }

    /** What a driver does at probe: memory decoding and bus mastering, MSI-X on, vector 0's eventfd. */
    private EventFd enableDevice(VfioUserClient client) throws Exception {
        write(client, CONFIG, COMMAND, 2, COMMAND_MEMORY | COMMAND_MASTER);
        write(client, CONFIG, device.capability(CAP_ID_MSIX) + MSIX_CONTROL, 2, MSIX_CONTROL_ENABLE);
        EventFd vector0 = irqs.eventFd();
        client.setIrqEventFds(DeviceInterrupts.MSIX_INDEX, 0, List.of(vector0));
        return vector0;
    }

    /** Programs and rings one command; returns once its completion interrupt arrived. */
    private void run(VfioUserClient client, EventFd completion, int command, long src, long dst, long length)
            throws Exception {
        write(client, REGISTER_BAR, REG_SRC, 8, src);
        write(client, REGISTER_BAR, REG_DST, 8, dst);
        write(client, REGISTER_BAR, REG_LENGTH, 4, length);
        write(client, REGISTER_BAR, REG_COMMAND, 4, command);
        assertEquals(1, awaitSignals(completion), "one completion interrupt for command " + command);
    }

    // ---- what the client sees ------------------------------------------------------------------------

    @Test
    void deviceInfoSaysPciWithResetNineRegionsFiveIrqIndexes() throws Exception {
        DeviceInfoPayload info = connect().deviceInfo();
        assertEquals(DeviceInfoPayload.FLAG_PCI | DeviceInfoPayload.FLAG_RESET, info.flags());
        assertEquals(9, info.numRegions());
        assertEquals(5, info.numIrqs());
    }

    @Test
    void registerBarIsMessageOnly() throws Exception {
        RegionInfo bar0 = connect().regionInfo(REGISTER_BAR);
        assertEquals(REGISTER_BAR_SIZE, bar0.size());
        assertEquals(RegionInfoPayload.FLAG_READ | RegionInfoPayload.FLAG_WRITE, bar0.flags());
        assertFalse(bar0.mappable());
        assertNull(bar0.fd());
        assertEquals(List.of(), bar0.capabilities());
    }

    @Test
    void scratchBarIsMappableAndItsFdIsTheDevicesMemory() throws Exception {
        VfioUserClient client = connect();
        RegionInfo bar2 = client.regionInfo(SCRATCH_BAR);
        try (OwnedFd fd = bar2.fd()) {
            assertEquals(SCRATCH_SIZE, bar2.size());
            assertTrue(bar2.readable() && bar2.writable() && bar2.mappable());
            assertEquals(List.of(new RegionCapability.SparseMmap(List.of(new RegionCapability.Area(0, SCRATCH_SIZE)))),
                    bar2.capabilities());
            assertNotNull(fd);
            try (MappedMemory mine = MappedMemory.map(fd, bar2.mmapOffset(), SCRATCH_SIZE, true)) {
                MemorySegment scratch = device.bar(SCRATCH_BAR).memory();
                scratch.set(JAVA_LONG_UNALIGNED, 0x1000, 0x0123456789abcdefL);
                assertEquals(0x0123456789abcdefL, mine.segment().get(JAVA_LONG_UNALIGNED, 0x1000),
                        "the client's mapping shows the device's scratch memory");
                mine.segment().set(JAVA_INT_UNALIGNED, SCRATCH_SIZE - 4, 0xfeedf00d);
                assertEquals(0xfeedf00dL, scratch.get(JAVA_INT_UNALIGNED, SCRATCH_SIZE - 4) & 0xffffffffL);
            }
        }
        // The same memory by message.
        write(client, SCRATCH_BAR, 0x2000, 8, 0x5555aaaa5555aaaaL);
        assertEquals(0x5555aaaa5555aaaaL, device.bar(SCRATCH_BAR).memory().get(JAVA_LONG_UNALIGNED, 0x2000));
        assertEquals(0x0123456789abcdefL, read(client, SCRATCH_BAR, 0x1000, 8));
    }

    @Test
    void absentRegionsHaveSizeZero() throws Exception {
        VfioUserClient client = connect();
        for (int index : new int[] {1, 3, 4, 5, VfioUserAdapter.ROM_REGION, VfioUserAdapter.VGA_REGION}) {
            RegionInfo info = client.regionInfo(index);
            assertEquals(0, info.size(), "region " + index);
            assertFalse(info.mappable(), "region " + index);
            assertNull(info.fd());
        }
        assertErrno(Errno.EINVAL, () -> client.regionRead(3, 0, 4));
        assertErrno(Errno.EINVAL, () -> client.regionRead(VfioUserAdapter.ROM_REGION, 0, 4));
        assertErrno(Errno.EINVAL, () -> client.regionWrite(VfioUserAdapter.VGA_REGION, 0, le(4, 0)));
        assertErrno(Errno.EINVAL, () -> client.regionInfo(VfioUserAdapter.NUM_REGIONS));
    }

    @Test
    void configRegionIsFourKibibytesAndNotMappable() throws Exception {
        RegionInfo config = connect().regionInfo(CONFIG);
        assertEquals(EXPRESS_CONFIG_SIZE, config.size());
        assertEquals(RegionInfoPayload.FLAG_READ | RegionInfoPayload.FLAG_WRITE, config.flags());
        assertNull(config.fd());
    }

    @Test
    void wholeConfigSpaceInOneReadWithItsCapabilities() throws Exception {
        VfioUserClient client = connect();
        MemorySegment bytes = client.regionRead(CONFIG, 0, EXPRESS_CONFIG_SIZE);
        assertArrayEquals(device.config().snapshot(), bytes.toArray(JAVA_BYTE));
        assertEquals(DmaEngine.VENDOR_ID, bytes.get(JAVA_INT_UNALIGNED, 0) & 0xffff);
        assertEquals(DmaEngine.DEVICE_ID, bytes.get(JAVA_INT_UNALIGNED, 0) >>> 16);
        assertEquals(DmaEngine.CLASS_CODE, bytes.get(JAVA_INT_UNALIGNED, REVISION_ID) >>> 8);
        assertEquals(0, bytes.get(JAVA_INT_UNALIGNED, barOffset(0)), "BAR0: 32-bit memory");
        assertEquals(BAR_MEMORY_TYPE_64 | BAR_MEMORY_PREFETCH, bytes.get(JAVA_INT_UNALIGNED, barOffset(2)),
                "BAR2: 64-bit prefetchable, as QEMU reads the type");
        assertEquals(INTERRUPT_PIN_INTA, bytes.get(JAVA_BYTE, INTERRUPT_PIN));
        assertTrue((bytes.get(JAVA_BYTE, STATUS) & STATUS_CAPABILITY_LIST) != 0);

        Map<Integer, Integer> caps = new LinkedHashMap<>();
        int at = bytes.get(JAVA_BYTE, CAPABILITY_LIST) & 0xff;
        while (at != 0) {
            assertTrue(at >= HEADER_END && at < CONFIG_SIZE && at % 4 == 0, "capability at " + at);
            assertNull(caps.put(at, bytes.get(JAVA_BYTE, at) & 0xff), "the chain loops");
            at = bytes.get(JAVA_BYTE, at + 1) & 0xff;
        }
        assertEquals(List.of(CAP_ID_EXPRESS, CAP_ID_PM, CAP_ID_MSI, CAP_ID_MSIX), List.copyOf(caps.values()));
        int msix = device.capability(CAP_ID_MSIX);
        assertEquals(CAP_ID_MSIX, caps.get(msix));
        assertEquals(MSIX_VECTORS - 1, bytes.get(JAVA_INT_UNALIGNED, msix) >>> 16);
        assertEquals(DmaEngine.MSIX_TABLE | REGISTER_BAR, bytes.get(JAVA_INT_UNALIGNED, msix + PciRegisters.MSIX_TABLE));
        assertEquals(DmaEngine.MSIX_PBA | REGISTER_BAR, bytes.get(JAVA_INT_UNALIGNED, msix + PciRegisters.MSIX_PBA));
    }

    @Test
    void configWritesKeepTheReadOnlyBitsAndQemusRomProbeReadsZero() throws Exception {
        VfioUserClient client = connect();
        write(client, CONFIG, PciRegisters.VENDOR_ID, 4, 0xffffffffL);
        assertEquals(((long) DmaEngine.DEVICE_ID << 16) | DmaEngine.VENDOR_ID, read(client, CONFIG, PciRegisters.VENDOR_ID, 4));
        write(client, CONFIG, ROM_ADDRESS, 4, 0xfffff800L);
        assertEquals(0, read(client, CONFIG, ROM_ADDRESS, 4), "no expansion ROM");
        write(client, CONFIG, barOffset(0), 4, 0xffffffffL);
        assertEquals(0xfffff000L, read(client, CONFIG, barOffset(0), 4));
        write(client, CONFIG, barOffset(2), 4, 0xffffffffL);
        write(client, CONFIG, barOffset(3), 4, 0xffffffffL);
        assertEquals(0xfff00000L | BAR_MEMORY_TYPE_64 | BAR_MEMORY_PREFETCH, read(client, CONFIG, barOffset(2), 4));
        assertEquals(0xffffffffL, read(client, CONFIG, barOffset(3), 4));
        write(client, CONFIG, COMMAND, 2, 0xffff);
        assertEquals(COMMAND_WRITABLE, read(client, CONFIG, COMMAND, 2));
        assertErrno(Errno.EINVAL, () -> client.regionRead(CONFIG, EXPRESS_CONFIG_SIZE - 2, 4));
    }

    @Test
    void irqIndexesAsTheClientSeesThem() throws Exception {
        VfioUserClient client = connect();
        IrqInfoPayload intx = client.irqInfo(DeviceInterrupts.INTX_INDEX);
        assertEquals(1, intx.count());
        assertTrue((intx.flags() & IrqInfoPayload.FLAG_AUTOMASKED) != 0);
        assertTrue((intx.flags() & IrqInfoPayload.FLAG_MASKABLE) != 0);
        IrqInfoPayload msi = client.irqInfo(DeviceInterrupts.MSI_INDEX);
        assertEquals(1, msi.count());
        assertTrue((msi.flags() & IrqInfoPayload.FLAG_EVENTFD) != 0);
        IrqInfoPayload msix = client.irqInfo(DeviceInterrupts.MSIX_INDEX);
        assertEquals(MSIX_VECTORS, msix.count());
        assertTrue((msix.flags() & IrqInfoPayload.FLAG_EVENTFD) != 0);
        IrqInfoPayload err = client.irqInfo(DeviceInterrupts.ERR_INDEX);
        assertEquals(1, err.count());
        assertEquals(0, client.irqInfo(DeviceInterrupts.REQ_INDEX).count());
        assertErrno(Errno.EINVAL, () -> client.irqInfo(5));
    }

    @Test
    void noDoorbellFdsForTheRegisterBar() throws Exception {
        RegionIoFds ioFds = connect().regionIoFds(REGISTER_BAR);
        assertEquals(List.of(), ioFds.subregions());
        assertEquals(List.of(), ioFds.fds());
    }

    // ---- the engine, end to end ----------------------------------------------------------------------

    @Test
    void copyEndToEnd() throws Exception {
        VfioUserClient client = connect();
        MemorySegment ram = mapRam(client).segment();
        EventFd done = enableDevice(client);
        int length = 300_000; // several bounce-buffer chunks, not a multiple of any of them
        for (int i = 0; i < length; i++) {
            ram.set(JAVA_BYTE, 0x1000 + i, (byte) (i * 31 + 7));
        }
        run(client, done, CMD_COPY, RAM_IOVA + 0x1000, RAM_IOVA + 0x200000, length);
        for (int i = 0; i < length; i++) {
            assertEquals((byte) (i * 31 + 7), ram.get(JAVA_BYTE, 0x200000 + i), "byte " + i);
        }
        assertEquals(0, ram.get(JAVA_BYTE, 0x200000 + length), "nothing beyond the length");
        assertEquals(STATUS_DONE, read(client, REGISTER_BAR, REG_STATUS, 4));
        assertEquals(Errno.OK, read(client, REGISTER_BAR, REG_ERROR, 4));
        assertEquals(1, read(client, REGISTER_BAR, REG_COMPLETED, 8));
        assertEquals(INTERRUPT_DONE, read(client, REGISTER_BAR, REG_INTERRUPT_STATUS, 4));
        assertEquals(0, read(client, REGISTER_BAR, REG_INTERRUPT_STATUS, 4), "read-to-clear");
        assertEquals(MAGIC, read(client, REGISTER_BAR, REG_MAGIC, 4));
    }

    @Test
    void fillAndScratchCommandsEndToEnd() throws Exception {
        VfioUserClient client = connect();
        MemorySegment ram = mapRam(client).segment();
        EventFd done = enableDevice(client);
        write(client, REGISTER_BAR, REG_PATTERN, 8, 0x1122334455667788L);
        run(client, done, CMD_FILL, 0, RAM_IOVA + 0x10000, 4096);
        for (int i = 0; i < 4096; i += 8) {
            assertEquals(0x1122334455667788L, ram.get(JAVA_LONG_UNALIGNED, 0x10000 + i));
        }
        run(client, done, CMD_TO_SCRATCH, RAM_IOVA + 0x10000, 0x800, 4096);
        assertEquals(0x1122334455667788L, device.bar(SCRATCH_BAR).memory().get(JAVA_LONG_UNALIGNED, 0x800));
        assertEquals(0x1122334455667788L, read(client, SCRATCH_BAR, 0x800 + 4088, 8));
        run(client, done, CMD_FROM_SCRATCH, 0x800, RAM_IOVA + 0x30000, 4096);
        assertEquals(0x1122334455667788L, ram.get(JAVA_LONG_UNALIGNED, 0x30000 + 4088));
        run(client, done, CMD_TO_SCRATCH, RAM_IOVA, SCRATCH_SIZE - 8, 16);
        assertEquals(STATUS_ERROR, read(client, REGISTER_BAR, REG_STATUS, 4));
        assertEquals(Errno.EINVAL, read(client, REGISTER_BAR, REG_ERROR, 4), "beyond the scratch memory");
        assertEquals(4, engine.completedCommands());
    }

    @Test
    void badLengthsAreEinval() throws Exception {
        VfioUserClient client = connect();
        mapRam(client);
        EventFd done = enableDevice(client);
        run(client, done, CMD_COPY, RAM_IOVA, RAM_IOVA + 0x1000, 0);
        assertEquals(STATUS_ERROR, read(client, REGISTER_BAR, REG_STATUS, 4));
        assertEquals(Errno.EINVAL, read(client, REGISTER_BAR, REG_ERROR, 4));
        run(client, done, CMD_COPY, RAM_IOVA, RAM_IOVA + 0x1000, MAX_LENGTH + 1);
        assertEquals(Errno.EINVAL, read(client, REGISTER_BAR, REG_ERROR, 4));
        run(client, done, 0x7f, RAM_IOVA, RAM_IOVA + 0x1000, 16);
        assertEquals(Errno.EINVAL, read(client, REGISTER_BAR, REG_ERROR, 4), "unknown command");
        run(client, done, CMD_COPY, RAM_IOVA, RAM_IOVA + 0x1000, MAX_LENGTH);
        assertEquals(STATUS_DONE, read(client, REGISTER_BAR, REG_STATUS, 4), "the maximum itself is fine");
        assertEquals(Errno.OK, read(client, REGISTER_BAR, REG_ERROR, 4));
    }

    @Test
    void unmappedAddressesAreEfault() throws Exception {
        VfioUserClient client = connect();
        MemorySegment ram = mapRam(client).segment();
        EventFd done = enableDevice(client);
        run(client, done, CMD_COPY, 0x1000, RAM_IOVA, 64);
        assertEquals(STATUS_ERROR, read(client, REGISTER_BAR, REG_STATUS, 4));
        assertEquals(Errno.EFAULT, read(client, REGISTER_BAR, REG_ERROR, 4));
        ram.set(JAVA_LONG_UNALIGNED, 0, 0x77);
        run(client, done, CMD_COPY, RAM_IOVA, RAM_IOVA + RAM_SIZE - 32, 64);
        assertEquals(Errno.EFAULT, read(client, REGISTER_BAR, REG_ERROR, 4), "the end runs past the mapping");
        assertEquals(new DmaEngine.Transfer(CMD_COPY, RAM_IOVA, RAM_IOVA + RAM_SIZE - 32, 64, Errno.EFAULT),
                engine.lastTransfer());
    }

    @Test
    void withoutBusMasteringTheEngineRefusesWithEperm() throws Exception {
        VfioUserClient client = connect();
        MemorySegment ram = mapRam(client).segment();
        EventFd done = enableDevice(client);
        write(client, CONFIG, COMMAND, 2, COMMAND_MEMORY);
        ram.set(JAVA_LONG_UNALIGNED, 0, 0x1234);
        run(client, done, CMD_COPY, RAM_IOVA, RAM_IOVA + 0x1000, 8);
        assertEquals(STATUS_ERROR, read(client, REGISTER_BAR, REG_STATUS, 4));
        assertEquals(Errno.EPERM, read(client, REGISTER_BAR, REG_ERROR, 4));
        assertEquals(0, ram.get(JAVA_LONG_UNALIGNED, 0x1000), "no byte moved");
    }

    @Test
    void msixFunctionMaskFromTheGuestHoldsTheCompletion() throws Exception {
        VfioUserClient client = connect();
        mapRam(client);
        EventFd done = enableDevice(client);
        int control = device.capability(CAP_ID_MSIX) + MSIX_CONTROL;
        write(client, CONFIG, control, 2, MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK);
        write(client, REGISTER_BAR, REG_SRC, 8, RAM_IOVA);
        write(client, REGISTER_BAR, REG_DST, 8, RAM_IOVA + 0x1000);
        write(client, REGISTER_BAR, REG_LENGTH, 4, 64);
        write(client, REGISTER_BAR, REG_COMMAND, 4, CMD_COPY);
        // Bounded wait for the engine to finish (it counts completions before it signals).
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ClientIrqs.WAIT_MILLIS);
        while (!device.interrupts().msix().isPending(0) && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertTrue(device.interrupts().msix().isPending(0), "held while the function is masked");
        assertEquals(1, read(client, REGISTER_BAR, DmaEngine.MSIX_PBA, 8), "the PBA read is forwarded and shows it");
        assertEquals(0, ClientIrqs.signals(done));
        write(client, CONFIG, control, 2, MSIX_CONTROL_ENABLE);
        assertEquals(1, awaitSignals(done), "delivered once the guest unmasks");
    }

    @Test
    void doorbellsAreOfferedAsIoeventfds() throws Exception {
        EventFd kick = EventFd.createNonBlocking();
        EmuDevice small = EmuDevice.builder("doorbells", new PciIds(0x1234, 0x0002, 0x1234, 0x0002, 0, 0x0b4000))
                .bar(Bar.memory32(0, 4096).eventFdDoorbell(0x40, 4, kick, 7L))
                .bar(Bar.io(1, 16).trap(0, 16, new io.umdev.emudev.RegisterHandler() {
                    @Override
                    public int read(long offset, MemorySegment dst) {
                        dst.fill((byte) 0x42);
                        return Errno.OK;
                    }

                    @Override
                    public int write(long offset, MemorySegment src) {
                        return Errno.OK;
                    }
                }))
                .build();
        small.configure();
        try (VfioUserServer other = VfioUserServer.start(dir.resolve("small.sock"), new VfioUserAdapter(small),
                ServerOptions.defaults());
                VfioUserClient client = VfioUserClient.connect(other.socketPath())) {
            RegionIoFds ioFds = client.regionIoFds(0);
            try {
                assertEquals(List.of(new RegionIoFdsPayload.Subregion(0x40, 4, 0, RegionIoFdsPayload.TYPE_IOEVENTFD,
                        RegionIoFdsPayload.IOEVENTFD_FLAG_DATAMATCH, 7)), ioFds.subregions());
                assertEquals(1, ioFds.fds().size());
                // The hypervisor would hand this fd to KVM as an ioeventfd: a signal on it is the doorbell.
                EventFd received = EventFd.adopt(ioFds.fds().get(0).duplicate());
                received.signal();
                received.close();
                assertEquals(1, ClientIrqs.signals(kick));
            } finally {
                ioFds.fds().forEach(OwnedFd::close);
            }
            client.regionWrite(0, 0x40, le(4, 7));
            assertEquals(1, ClientIrqs.signals(kick), "without the ioeventfd, the message write rings it");
            RegionInfo io = client.regionInfo(1);
            assertEquals(16, io.size());
            assertFalse(io.mappable());
            assertEquals(0x42424242L, read(client, 1, 0, 4));
        } finally {
            small.close();
        }
    }

    // ---- reset and lifecycle -------------------------------------------------------------------------

    @Test
    void deviceResetRestoresPowerOnConfigAndRegisters() throws Exception {
        VfioUserClient client = connect();
        mapRam(client);
        EventFd done = enableDevice(client);
        write(client, CONFIG, barOffset(0), 4, 0xfebf0000L);
        write(client, CONFIG, barOffset(2), 4, 0xe0000000L);
        run(client, done, CMD_COPY, RAM_IOVA, RAM_IOVA + 0x1000, 64);
        write(client, REGISTER_BAR, REG_SRC, 8, 0xabcdef);
        List<String> resets = new CopyOnWriteArrayList<>();
        device.addListener(new EmuDeviceListener() {
            @Override
            public void reset(EmuDevice d) {
                resets.add(d.name());
            }
        });

        client.reset();

        assertEquals(List.of("dma-adapter"), resets);
        assertEquals(0, read(client, CONFIG, COMMAND, 2), "command register back to 0");
        assertEquals(0, read(client, CONFIG, barOffset(0), 4));
        assertEquals(BAR_MEMORY_TYPE_64 | BAR_MEMORY_PREFETCH, read(client, CONFIG, barOffset(2), 4));
        assertEquals(0, read(client, CONFIG, device.capability(CAP_ID_MSIX) + MSIX_CONTROL, 2) & MSIX_CONTROL_ENABLE);
        assertEquals(MAGIC, read(client, REGISTER_BAR, REG_MAGIC, 4), "registers back to power-on");
        assertEquals(VERSION, read(client, REGISTER_BAR, REG_VERSION, 4));
        assertEquals(0, read(client, REGISTER_BAR, REG_SRC, 8));
        assertEquals(STATUS_IDLE, read(client, REGISTER_BAR, REG_STATUS, 4));
        assertEquals(1, read(client, REGISTER_BAR, REG_COMPLETED, 8), "the completion counter is the device's life");
        assertEquals(EmuDevice.State.RUNNING, device.state(), "a reset does not stop the device");

        // The driver starts over and the engine works.
        EventFd again = enableDevice(client);
        run(client, again, CMD_COPY, RAM_IOVA, RAM_IOVA + 0x2000, 64);
        assertEquals(STATUS_DONE, read(client, REGISTER_BAR, REG_STATUS, 4));
    }

    @Test
    void clientsStartAndStopTheDevice() throws Exception {
        List<String> states = new CopyOnWriteArrayList<>();
        device.addListener(new EmuDeviceListener() {
            @Override
            public void stateChanged(EmuDevice d, EmuDevice.State from, EmuDevice.State to) {
                states.add(from + "->" + to);
            }
        });
        assertEquals(EmuDevice.State.CONFIGURED, device.state());

        VfioUserClient first = connect();
        assertEquals(EmuDevice.State.RUNNING, device.state(), "running once the client is connected");
        write(first, CONFIG, COMMAND, 2, COMMAND_MASTER);
        write(first, REGISTER_BAR, REG_SRC, 8, 0x1000);
        first.close();
        assertTrue(server.awaitNoClient(10, TimeUnit.SECONDS));
        assertEquals(EmuDevice.State.STOPPED, device.state());
        assertEquals(0, device.config().get16(COMMAND), "the server reset the device after the client left");

        VfioUserClient second = connect();
        assertEquals(EmuDevice.State.RUNNING, device.state());
        assertEquals(0, read(second, REGISTER_BAR, REG_SRC, 8));
        mapRam(second);
        EventFd done = enableDevice(second);
        run(second, done, CMD_COPY, RAM_IOVA, RAM_IOVA + 0x1000, 128);
        assertEquals(STATUS_DONE, read(second, REGISTER_BAR, REG_STATUS, 4), "the next client drives the engine");
        assertEquals(List.of("CONFIGURED->RUNNING", "RUNNING->STOPPED", "STOPPED->RUNNING"), states);
    }
}

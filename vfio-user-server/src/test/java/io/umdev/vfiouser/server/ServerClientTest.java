package io.umdev.vfiouser.server;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.linux.Poll;
import io.umdev.vfiouser.client.ClientOptions;
import io.umdev.vfiouser.client.RegionInfo;
import io.umdev.vfiouser.client.RegionIoFds;
import io.umdev.vfiouser.client.Reply;
import io.umdev.vfiouser.client.VfioUserClient;
import io.umdev.vfiouser.client.VfioUserException;
import io.umdev.vfiouser.protocol.Command;
import io.umdev.vfiouser.protocol.DeviceFeaturePayload;
import io.umdev.vfiouser.protocol.DeviceInfoPayload;
import io.umdev.vfiouser.protocol.DmaMapPayload;
import io.umdev.vfiouser.protocol.IrqInfoPayload;
import io.umdev.vfiouser.protocol.IrqSetPayload;
import io.umdev.vfiouser.protocol.MessageHeader;
import io.umdev.vfiouser.protocol.RegionCapability;
import io.umdev.vfiouser.protocol.RegionInfoPayload;
import io.umdev.vfiouser.protocol.RegionIoFdsPayload;
import io.umdev.vfiouser.protocol.WriteMultiPayload;
import io.umdev.vfiouser.testing.OpenFiles;
import io.umdev.vfiouser.testing.ScratchDevice;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server and the client against each other over real sockets, fds and shared memory. */
class ServerClientTest {
    private static final int RW = DmaMapPayload.FLAG_READ | DmaMapPayload.FLAG_WRITE;
    private static final long RAM_IOVA = 0x100000;
    private static final long RAM_SIZE = 1 << 20;

    @TempDir
    Path dir;

    private ScratchDevice device;
    private VfioUserServer server;
    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        device = new ScratchDevice();
        server = VfioUserServer.start(dir.resolve("scratch.sock"), device, ServerOptions.defaults());
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
        server.close();
        device.close();
    }

    private <T extends AutoCloseable> T closeLater(T resource) {
        cleanup.add(resource);
        return resource;
    }

    private VfioUserClient connect() throws IOException {
        return closeLater(VfioUserClient.connect(server.socketPath()));
    }

    private static MemorySegment u64(long value) {
        MemorySegment s = MemorySegment.ofArray(new byte[Long.BYTES]);
        s.set(JAVA_LONG_UNALIGNED, 0, value);
        return s;
    }

    private static void assertErrno(int errno, ThrowingRunnable action) {
        VfioUserException e = assertThrows(VfioUserException.class, action::run);
        assertEquals(Errno.name(errno), Errno.name(e.errno()), e.getMessage());
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** Guest RAM as QEMU provides it: a memfd the client maps and passes to the server. */
    private MappedMemory mapRam(VfioUserClient client) throws Exception {
        OwnedFd fd = closeLater(Memfd.create("guest-ram", RAM_SIZE));
        MappedMemory ram = closeLater(MappedMemory.map(fd, 0, RAM_SIZE, true));
        client.dmaMap(RAM_IOVA, RAM_SIZE, RW, fd, 0, ram.segment());
        return ram;
    }

    private void startCopy(VfioUserClient client, long src, long dst, long len, long mode) throws IOException {
        client.regionWrite(ScratchDevice.BAR0, ScratchDevice.REG_SRC, u64(src));
        client.regionWrite(ScratchDevice.BAR0, ScratchDevice.REG_DST, u64(dst));
        client.regionWrite(ScratchDevice.BAR0, ScratchDevice.REG_LEN, u64(len));
        client.regionWrite(ScratchDevice.BAR0, ScratchDevice.REG_GO, u64(mode));
    }

    private static boolean signalled(EventFd fd) throws Exception {
        return (Poll.poll(fd.fd().fd(), Poll.POLLIN, (int) TimeUnit.SECONDS.toMillis(10)) & Poll.POLLIN) != 0
                && fd.read() > 0;
    }

    // ---- VERSION ---------------------------------------------------------------------------------

    @Test
    void negotiatesCapabilities() throws Exception {
        VfioUserClient client = connect();
        assertEquals(ServerOptions.DEFAULT_MAX_MSG_FDS, client.serverCapabilities().maxMsgFds());
        assertEquals(ServerOptions.DEFAULT_MAX_DATA_XFER_SIZE, client.serverCapabilities().maxDataXferSize());
        assertEquals(ScratchDevice.MAX_DMA_MAPS, client.serverCapabilities().maxDmaMaps());
        assertTrue(client.serverCapabilities().writeMultiple());
        assertEquals(1, device.connects());
    }

    @Test
    void omitsWriteMultipleWhenTheClientDidNotProposeIt() throws Exception {
        VfioUserClient client = closeLater(VfioUserClient.connect(server.socketPath(),
                ClientOptions.defaults().withWriteMultiple(false)));
        assertFalse(client.serverCapabilities().writeMultiple());
        WriteMultiPayload.Write w = new WriteMultiPayload.Write(0x40, ScratchDevice.BAR0, 8, u64(1));
        assertErrno(Errno.EINVAL, () -> client.regionWriteMulti(List.of(w)));
    }

    @Test
    void refusesAFirstMessageOtherThanVersion() throws Exception {
        try (RawPeer raw = RawPeer.connect(server.socketPath())) {
            raw.send(Command.DEVICE_GET_INFO.code(), 0, new byte[16], List.of());
            RawPeer.Received reply = raw.receive();
            assertEquals(Errno.EINVAL, reply.error());
            assertTrue(raw.closedByPeer());
        }
        connect().deviceInfo();
    }

    @Test
    void refusesAnUnknownMajorVersionAndMalformedCapabilities() throws Exception {
        try (RawPeer raw = RawPeer.connect(server.socketPath())) {
            raw.send(Command.VERSION.code(), 0, RawPeer.version(1, 0, "{}"), List.of());
            assertEquals(Errno.EINVAL, raw.receive().error());
        }
        try (RawPeer raw = RawPeer.connect(server.socketPath())) {
            raw.send(Command.VERSION.code(), 0, RawPeer.version(0, 0, "{\"capabilities\":{\"max_msg_fds\":\"many\"}}"),
                    List.of());
            assertEquals(Errno.EINVAL, raw.receive().error());
        }
        try (RawPeer raw = RawPeer.connect(server.socketPath())) {
            raw.send(Command.VERSION.code(), 0, RawPeer.version(0, 0, "not json"), List.of());
            assertEquals(Errno.EINVAL, raw.receive().error());
        }
        connect().deviceInfo();
    }

    @Test
    void versionReplyFitsTheRequestSize() throws Exception {
        // QEMU's request: its reply buffer is exactly this large.
        String qemu = "{\"capabilities\":{\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":268435456},"
                + "\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,\"pgsizes\":4096,\"max_dma_maps\":65535,"
                + "\"write_multiple\":true}}";
        for (String json : List.of(qemu, "{}", "")) {
            try (RawPeer raw = RawPeer.connect(server.socketPath())) {
                byte[] request = json.isEmpty() ? RawPeer.versionWithoutJson() : RawPeer.version(0, 0, json);
                raw.send(Command.VERSION.code(), 0, request, List.of());
                RawPeer.Received reply = raw.receive();
                assertEquals(0, reply.flags() & MessageHeader.ERROR);
                assertTrue(reply.size() <= MessageHeader.SIZE + request.length,
                        "reply of " + reply.size() + " bytes for a request of " + (MessageHeader.SIZE + request.length));
            }
            assertTrue(server.awaitNoClient(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void rejectsASecondVersion() throws Exception {
        VfioUserClient client = connect();
        Reply reply = client.call(Command.VERSION.code(), 0, MemorySegment.ofArray(RawPeer.version(0, 0, "{}")), List.of());
        assertTrue(reply.isError());
        assertEquals(Errno.EINVAL, reply.error());
        client.deviceInfo();
    }

    // ---- one client at a time --------------------------------------------------------------------

    @Test
    void refusesASecondClientWhileTheFirstKeepsWorking() throws Exception {
        VfioUserClient first = connect();
        first.regionWrite(ScratchDevice.BAR0, 0x40, u64(7));
        VfioUserException refused = assertThrows(VfioUserException.class, () -> VfioUserClient.connect(server.socketPath()));
        assertEquals(Errno.EBUSY, refused.errno());
        assertEquals(7L, first.regionRead(ScratchDevice.BAR0, 0x40, 8).get(JAVA_LONG_UNALIGNED, 0));
        assertEquals(1, device.connects());
        assertEquals(0, device.disconnects());
    }

    @Test
    void nextClientFindsTheDeviceResetAndItsResourcesReleased() throws Exception {
        long fdsBefore = OpenFiles.descriptors();
        long mapsBefore = OpenFiles.memfdMappings();
        try (VfioUserClient first = VfioUserClient.connect(server.socketPath());
                OwnedFd ram = Memfd.create("ram", RAM_SIZE);
                EventFd irq = EventFd.createNonBlocking()) {
            first.dmaMap(RAM_IOVA, RAM_SIZE, RW, ram, 0, null);
            first.setIrqEventFds(ScratchDevice.MSIX, 0, List.of(irq));
            first.regionWrite(ScratchDevice.BAR0, 0x40, u64(99));
            assertEquals(1, device.dma().size());
            assertTrue(device.irq(ScratchDevice.MSIX).hasTrigger(0));
        }
        assertTrue(server.awaitNoClient(10, TimeUnit.SECONDS));
        assertEquals(1, device.disconnects());
        assertEquals(1, device.resets());
        assertEquals(0, device.dma().size());
        assertFalse(device.irq(ScratchDevice.MSIX).hasTrigger(0));
        assertEquals(fdsBefore, OpenFiles.descriptors());
        assertEquals(mapsBefore, OpenFiles.memfdMappings());

        VfioUserClient second = connect();
        assertEquals(0L, second.regionRead(ScratchDevice.BAR0, 0x40, 8).get(JAVA_LONG_UNALIGNED, 0));
        assertEquals(2, device.connects());
    }

    @Test
    void refusesPeersTheAccessPolicyRejects() throws Exception {
        try (ScratchDevice other = new ScratchDevice();
                VfioUserServer guarded = VfioUserServer.start(dir.resolve("guarded.sock"), other,
                        ServerOptions.defaults().withAccessPolicy(peer -> peer.uid() == 123456))) {
            VfioUserException e = assertThrows(VfioUserException.class, () -> VfioUserClient.connect(guarded.socketPath()));
            assertEquals(Errno.EACCES, e.errno());
            assertEquals(0, other.connects());
        }
    }

    @Test
    void socketFileIsPrivateByDefault() throws Exception {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(server.socketPath())));
    }

    @Test
    void replacesAStaleSocketButNeverALiveOneOrAFile() throws Exception {
        Path path = server.socketPath();
        assertThrows(IOException.class, () -> VfioUserServer.start(path, device, ServerOptions.defaults()));
        connect().deviceInfo();

        Path file = dir.resolve("not-a-socket");
        Files.writeString(file, "precious");
        assertThrows(IOException.class, () -> VfioUserServer.start(file, device, ServerOptions.defaults()));
        assertEquals("precious", Files.readString(file));

        Path stale = dir.resolve("stale.sock");
        try (ScratchDevice other = new ScratchDevice()) {
            // A socket file whose server died without removing it.
            try (var listener = org.newsclub.net.unix.AFUNIXServerSocketChannel.open()) {
                listener.bind(org.newsclub.net.unix.AFUNIXSocketAddress.of(stale));
                listener.setDeleteOnClose(false);
            }
            assertTrue(Files.exists(stale));
            try (VfioUserServer again = VfioUserServer.start(stale, other, ServerOptions.defaults());
                    VfioUserClient client = VfioUserClient.connect(again.socketPath())) {
                assertEquals(ScratchDevice.NUM_IRQS, client.deviceInfo().numIrqs());
            }
        }
        assertFalse(Files.exists(stale), "closing the server removes its socket");
    }

    // ---- device, regions -------------------------------------------------------------------------

    @Test
    void reportsDeviceInfo() throws Exception {
        DeviceInfoPayload info = connect().deviceInfo();
        assertEquals(DeviceInfoPayload.FLAG_RESET | DeviceInfoPayload.FLAG_PCI, info.flags());
        assertEquals(ScratchDevice.NUM_REGIONS, info.numRegions());
        assertEquals(ScratchDevice.NUM_IRQS, info.numIrqs());
        assertEquals(DeviceInfoPayload.LAYOUT.byteSize(), info.argsz());
    }

    @Test
    void rejectsDeviceInfoWithAShortArgsz() throws Exception {
        MemorySegment p = MemorySegment.ofArray(new byte[16]);
        p.set(JAVA_INT_UNALIGNED, 0, 8);
        Reply reply = connect().call(Command.DEVICE_GET_INFO.code(), 0, p, List.of());
        assertEquals(Errno.EINVAL, reply.error());
        assertEquals(0, reply.payload().byteSize(), "error replies are header-only");
    }

    @Test
    void describesAMappableRegionWithSparseAreasAndItsFd() throws Exception {
        VfioUserClient client = connect();
        RegionInfo bar1 = client.regionInfo(ScratchDevice.BAR1);
        try (OwnedFd fd = bar1.fd()) {
            assertTrue(bar1.mappable() && bar1.readable() && bar1.writable());
            assertEquals(ScratchDevice.BAR1_SIZE, bar1.size());
            assertEquals(List.of(new RegionCapability.SparseMmap(ScratchDevice.BAR1_AREAS),
                    new RegionCapability.RegionType(0x1af4, 7)), bar1.capabilities());
            assertNotNull(fd);
            // The fd is the device's own memory: a store through the client's mapping is seen by the device.
            RegionCapability.Area area = ScratchDevice.BAR1_AREAS.get(0);
            try (MappedMemory mine = MappedMemory.map(fd, bar1.mmapOffset() + area.offset(), area.size(), true)) {
                mine.segment().set(JAVA_LONG_UNALIGNED, 8, 0xfeedL);
                assertEquals(0xfeedL, device.bar1().get(JAVA_LONG_UNALIGNED, area.offset() + 8));
            }
        }
        // The trapped first page is served by messages.
        device.bar1().set(JAVA_LONG_UNALIGNED, 16, 0xabcL);
        assertEquals(0xabcL, client.regionRead(ScratchDevice.BAR1, 16, 8).get(JAVA_LONG_UNALIGNED, 0));
    }

    @Test
    void reportsTheFullSizeWhenCapabilitiesDoNotFit() throws Exception {
        VfioUserClient client = connect();
        MemorySegment p = MemorySegment.ofArray(new byte[(int) RegionInfoPayload.LAYOUT.byteSize()]);
        new RegionInfoPayload((int) RegionInfoPayload.LAYOUT.byteSize(), 0, ScratchDevice.BAR1, 0, 0, 0).encode(p);
        Reply reply = client.call(Command.DEVICE_GET_REGION_INFO.code(), 0, p, List.of());
        reply.closeFds();
        RegionInfoPayload info = RegionInfoPayload.decode(reply.payload());
        assertEquals(RegionInfoPayload.LAYOUT.byteSize(), reply.payload().byteSize());
        assertTrue(info.argsz() > RegionInfoPayload.LAYOUT.byteSize());
        // Only argsz says there is more: QEMU's client rejects FLAG_CAPS without a chain.
        assertEquals(0, info.flags() & RegionInfoPayload.FLAG_CAPS);
        assertEquals(0, info.capOffset());
    }

    @Test
    void describesPlainAndAbsentRegionsAndRejectsBadIndexes() throws Exception {
        VfioUserClient client = connect();
        RegionInfo config = client.regionInfo(ScratchDevice.CONFIG);
        assertEquals(ScratchDevice.CONFIG_SIZE, config.size());
        assertFalse(config.mappable());
        assertNull(config.fd());
        assertEquals(List.of(), config.capabilities());
        RegionInfo vga = client.regionInfo(8);
        assertEquals(0, vga.size());
        assertEquals(0, vga.flags());
        assertErrno(Errno.EINVAL, () -> client.regionInfo(ScratchDevice.NUM_REGIONS));
        assertErrno(Errno.EINVAL, () -> client.regionInfo(-1));
    }

    @Test
    void readsAndWritesRegions() throws Exception {
        VfioUserClient client = connect();
        byte[] pattern = new byte[256];
        for (int i = 0; i < pattern.length; i++) {
            pattern[i] = (byte) (i * 7);
        }
        client.regionWrite(ScratchDevice.CONFIG, 0, MemorySegment.ofArray(pattern));
        assertArrayEquals(pattern, client.regionRead(ScratchDevice.CONFIG, 0, 256).toArray(JAVA_BYTE));
        client.regionWrite(ScratchDevice.BAR0, 0x7f8, u64(-1L));
        assertEquals(-1L, client.regionRead(ScratchDevice.BAR0, 0x7f8, 8).get(JAVA_LONG_UNALIGNED, 0));
        assertEquals((byte) (255 * 7), client.regionRead(ScratchDevice.CONFIG, 255, 1).get(JAVA_BYTE, 0));
    }

    @Test
    void rejectsRegionAccessOutsideTheRegion() throws Exception {
        VfioUserClient client = connect();
        long end = ScratchDevice.BAR0_SIZE;
        assertErrno(Errno.EINVAL, () -> client.regionRead(ScratchDevice.BAR0, end - 4, 8));
        assertErrno(Errno.EINVAL, () -> client.regionRead(ScratchDevice.BAR0, end, 1));
        assertErrno(Errno.EINVAL, () -> client.regionRead(ScratchDevice.BAR0, -8L, 8));
        assertErrno(Errno.EINVAL, () -> client.regionWrite(ScratchDevice.BAR0, Long.MAX_VALUE, u64(1)));
        assertErrno(Errno.EINVAL, () -> client.regionRead(ScratchDevice.BAR0, 0, 0));
        assertErrno(Errno.EINVAL, () -> client.regionRead(8, 0, 4));
        assertErrno(Errno.EINVAL, () -> client.regionRead(ScratchDevice.NUM_REGIONS, 0, 4));
        assertErrno(Errno.E2BIG, () -> client.regionRead(ScratchDevice.BAR1, 0, ServerOptions.DEFAULT_MAX_DATA_XFER_SIZE + 1));
        // A write whose count disagrees with the data it carries.
        MemorySegment lying = MemorySegment.ofArray(new byte[16 + 4]);
        lying.set(JAVA_LONG_UNALIGNED, 0, 0x40);
        lying.set(JAVA_INT_UNALIGNED, 8, ScratchDevice.BAR0);
        lying.set(JAVA_INT_UNALIGNED, 12, 8);
        assertEquals(Errno.EINVAL, client.call(Command.REGION_WRITE.code(), 0, lying, List.of()).error());
        client.deviceInfo();
    }

    @Test
    void postedWritesAreAppliedInOrderWithoutAReply() throws Exception {
        VfioUserClient client = connect();
        for (long i = 1; i <= 100; i++) {
            client.regionWritePosted(ScratchDevice.BAR0, 0x48, u64(i));
        }
        // A read after posted writes sees the last one: commands are handled in order, and no stray
        // reply to a posted write has been taken for this read's reply.
        assertEquals(100L, client.regionRead(ScratchDevice.BAR0, 0x48, 8).get(JAVA_LONG_UNALIGNED, 0));
        // A posted write that fails is dropped quietly: no reply, and the stream stays in step.
        client.regionWritePosted(ScratchDevice.BAR0, ScratchDevice.BAR0_SIZE, u64(1));
        assertEquals(100L, client.regionRead(ScratchDevice.BAR0, 0x48, 8).get(JAVA_LONG_UNALIGNED, 0));
    }

    @Test
    void coalescedWritesApplyEachWrite() throws Exception {
        VfioUserClient client = connect();
        List<WriteMultiPayload.Write> writes = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            writes.add(new WriteMultiPayload.Write(0x400 + 8L * i, ScratchDevice.BAR0, 8, u64(i * 3L)));
        }
        assertEquals(200, client.regionWriteMulti(writes));
        for (int i = 0; i < 200; i += 37) {
            assertEquals(i * 3L, client.regionRead(ScratchDevice.BAR0, 0x400 + 8L * i, 8).get(JAVA_LONG_UNALIGNED, 0));
        }
        List<WriteMultiPayload.Write> bad = List.of(
                new WriteMultiPayload.Write(0x40, ScratchDevice.BAR0, 8, u64(5)),
                new WriteMultiPayload.Write(ScratchDevice.BAR0_SIZE - 4, ScratchDevice.BAR0, 8, u64(6)));
        assertErrno(Errno.EINVAL, () -> client.regionWriteMulti(bad));
        assertEquals(5L, client.regionRead(ScratchDevice.BAR0, 0x40, 8).get(JAVA_LONG_UNALIGNED, 0));
    }

    @Test
    void resetReachesTheDevice() throws Exception {
        VfioUserClient client = connect();
        client.regionWrite(ScratchDevice.BAR0, 0x40, u64(3));
        client.reset();
        assertEquals(1, device.resets());
        assertEquals(0L, client.regionRead(ScratchDevice.BAR0, 0x40, 8).get(JAVA_LONG_UNALIGNED, 0));
        Reply withPayload = client.call(Command.DEVICE_RESET.code(), 0, MemorySegment.ofArray(new byte[4]), List.of());
        assertEquals(Errno.EINVAL, withPayload.error());
    }

    // ---- DMA -------------------------------------------------------------------------------------

    @Test
    void deviceCopiesWithinMemfdBackedGuestMemory() throws Exception {
        VfioUserClient client = connect();
        MemorySegment ram = mapRam(client).segment();
        for (int i = 0; i < 4096; i++) {
            ram.set(JAVA_BYTE, i, (byte) (i ^ 0x5a));
        }
        startCopy(client, RAM_IOVA, RAM_IOVA + 0x8000, 4096, ScratchDevice.GO_INLINE);
        assertEquals(0, device.lastStatus());
        assertEquals(-1, ram.asSlice(0x8000, 4096).mismatch(ram.asSlice(0, 4096)));
    }

    @Test
    void deviceReachesMemoryWithoutAnFdByMessagesFromACommand() throws Exception {
        VfioUserClient client = connect();
        MemorySegment rom = MemorySegment.ofArray(new byte[8192]);
        for (int i = 0; i < 8192; i++) {
            rom.set(JAVA_BYTE, i, (byte) (i * 13));
        }
        client.dmaMap(0xc0000, 8192, RW, null, 0, rom);
        // The copy runs inside the REGION_WRITE handler: the server asks the client for the data while the
        // client waits for its reply on the same socket.
        startCopy(client, 0xc0000, 0xc0000 + 4096, 4096, ScratchDevice.GO_INLINE);
        assertEquals(0, device.lastStatus());
        assertEquals(-1, rom.asSlice(4096, 4096).mismatch(rom.asSlice(0, 4096)));
    }

    @Test
    void deviceThreadReachesMemoryWithoutAnFdWhileTheClientIsIdle() throws Exception {
        VfioUserClient client = connect();
        try (EventFd done = EventFd.createNonBlocking()) {
            client.setIrqEventFds(ScratchDevice.MSIX, ScratchDevice.DONE_VECTOR, List.of(done));
            MemorySegment rom = MemorySegment.ofArray(new byte[8192]);
            rom.set(JAVA_LONG_UNALIGNED, 0, 0x1234567890L);
            client.dmaMap(0xc0000, 8192, RW, null, 0, rom);
            startCopy(client, 0xc0000, 0xc0000 + 4096, 8, ScratchDevice.GO_DEVICE_THREAD);
            assertTrue(signalled(done), "the completion interrupt arrives");
            assertEquals(0, device.lastStatus());
            assertEquals(0x1234567890L, rom.get(JAVA_LONG_UNALIGNED, 4096));
        }
    }

    @Test
    void deviceCopiesBetweenMessageAndMemfdRanges() throws Exception {
        VfioUserClient client = connect();
        MemorySegment ram = mapRam(client).segment();
        MemorySegment rom = MemorySegment.ofArray(new byte[4096]);
        rom.set(JAVA_LONG_UNALIGNED, 64, 0xbeefL);
        client.dmaMap(0xc0000, 4096, DmaMapPayload.FLAG_READ, null, 0, rom);
        startCopy(client, 0xc0000 + 64, RAM_IOVA + 8, 8, ScratchDevice.GO_INLINE);
        assertEquals(0xbeefL, ram.get(JAVA_LONG_UNALIGNED, 8));
        // The client mapped the range read-only: the device may not write it.
        startCopy(client, RAM_IOVA, 0xc0000, 8, ScratchDevice.GO_INLINE);
        assertEquals(Errno.EPERM, device.lastStatus());
        assertEquals(0xbeefL, rom.get(JAVA_LONG_UNALIGNED, 64));
    }

    @Test
    void deviceDmaOutsideTheMapsFailsCleanly() throws Exception {
        VfioUserClient client = connect();
        mapRam(client);
        startCopy(client, RAM_IOVA + RAM_SIZE - 8, RAM_IOVA, 16, ScratchDevice.GO_INLINE);
        assertEquals(Errno.EFAULT, device.lastStatus());
        startCopy(client, 0xdead0000L, RAM_IOVA, 8, ScratchDevice.GO_INLINE);
        assertEquals(Errno.EFAULT, device.lastStatus());
        startCopy(client, -4096L, RAM_IOVA, 8, ScratchDevice.GO_INLINE);
        assertEquals(Errno.EFAULT, device.lastStatus());
        // A range without an fd whose memory the client does not have: the client refuses the request.
        client.dmaMap(0xe0000, 4096, RW, null, 0, null);
        startCopy(client, 0xe0000, RAM_IOVA, 8, ScratchDevice.GO_INLINE);
        assertEquals(Errno.EFAULT, device.lastStatus());
    }

    @Test
    void refusesBadDmaMaps() throws Exception {
        VfioUserClient client = connect();
        mapRam(client);
        try (OwnedFd small = Memfd.create("small", 4096); EventFd notMemory = EventFd.create();
                OwnedFd second = Memfd.create("second", 8192)) {
            assertErrno(Errno.EEXIST, () -> client.dmaMap(RAM_IOVA + 4096, 4096, RW, small, 0, null));
            assertErrno(Errno.EEXIST, () -> client.dmaMap(RAM_IOVA - 4096, 8192, RW, second, 0, null));
            assertErrno(Errno.EINVAL, () -> client.dmaMap(0x4000000, 8192, RW, small, 0, null));
            assertErrno(Errno.EINVAL, () -> client.dmaMap(0x4000000, 4096, RW, notMemory.fd(), 0, null));
            assertErrno(Errno.EINVAL, () -> client.dmaMap(0x4000000, 4096, RW, small, 4096, null));
            assertErrno(Errno.EINVAL, () -> client.dmaMap(0x4000000, 0, RW, null, 0, null));
            assertErrno(Errno.EINVAL, () -> client.dmaMap(0x4000001, 4096, RW, null, 0, null));
            assertErrno(Errno.EINVAL, () -> client.dmaMap(0x4000000, 4096, 0, null, 0, null));
            assertErrno(Errno.EINVAL, () -> client.dmaMap(0x4000000, 4096, 0x4 | RW, null, 0, null));
            assertErrno(Errno.EINVAL, () -> client.dmaMap(-4096L, 8192, RW, null, 0, null));
            // Two fds for one map.
            MemorySegment p = MemorySegment.ofArray(new byte[(int) DmaMapPayload.LAYOUT.byteSize()]);
            new DmaMapPayload(RW, 0, 0x4000000, 4096).encode(p);
            assertEquals(Errno.EINVAL, client.call(Command.DMA_MAP.code(), 0, p, List.of(small, second)).error());
        }
        assertEquals(1, device.dma().size());
    }

    @Test
    void limitsTheNumberOfMaps() throws Exception {
        VfioUserClient client = connect();
        for (int i = 0; i < ScratchDevice.MAX_DMA_MAPS; i++) {
            client.dmaMap(0x10000L * (i + 1), 4096, RW, null, 0, null);
        }
        assertErrno(Errno.ENOSPC, () -> client.dmaMap(0x1000000, 4096, RW, null, 0, null));
        client.dmaUnmap(0x10000, 4096);
        client.dmaMap(0x1000000, 4096, RW, null, 0, null);
    }

    @Test
    void unmapsExactlyAndAll() throws Exception {
        VfioUserClient client = connect();
        MappedMemory ram = mapRam(client);
        client.dmaMap(0xc0000, 4096, RW, null, 0, MemorySegment.ofArray(new byte[4096]));
        assertErrno(Errno.EINVAL, () -> client.dmaUnmap(RAM_IOVA, 4096));
        assertErrno(Errno.ENOENT, () -> client.dmaUnmap(RAM_IOVA + 4096, RAM_SIZE - 4096));
        client.dmaUnmap(RAM_IOVA, RAM_SIZE);
        startCopy(client, RAM_IOVA, 0xc0000, 8, ScratchDevice.GO_INLINE);
        assertEquals(Errno.EFAULT, device.lastStatus(), "unmapped memory is out of the device's reach");
        ram.segment().get(JAVA_LONG_UNALIGNED, 0);
        client.dmaUnmapAll();
        assertEquals(0, device.dma().size());
        MemorySegment p = MemorySegment.ofArray(new byte[24]);
        p.set(JAVA_INT_UNALIGNED, 0, 24);
        p.set(JAVA_INT_UNALIGNED, 4, 0x2);
        p.set(JAVA_LONG_UNALIGNED, 8, 0x1000);
        assertEquals(Errno.EINVAL, client.call(Command.DMA_UNMAP.code(), 0, p, List.of()).error(),
                "unmap-all needs address and size 0");
        p.set(JAVA_INT_UNALIGNED, 4, 0x1);
        assertEquals(Errno.EOPNOTSUPP, client.call(Command.DMA_UNMAP.code(), 0, p, List.of()).error());
    }

    @Test
    void deviceDmaCommandsFromTheClientAreRefused() throws Exception {
        VfioUserClient client = connect();
        for (Command c : List.of(Command.DMA_READ, Command.DMA_WRITE)) {
            assertEquals(Errno.EINVAL, client.call(c.code(), 0, MemorySegment.ofArray(new byte[16]), List.of()).error());
        }
    }

    // ---- interrupts ------------------------------------------------------------------------------

    @Test
    void reportsIrqIndexes() throws Exception {
        VfioUserClient client = connect();
        IrqInfoPayload msix = client.irqInfo(ScratchDevice.MSIX);
        assertEquals(ScratchDevice.MSIX_VECTORS, msix.count());
        assertTrue((msix.flags() & IrqInfoPayload.FLAG_EVENTFD) != 0);
        IrqInfoPayload intx = client.irqInfo(ScratchDevice.INTX);
        assertEquals(1, intx.count());
        assertTrue((intx.flags() & IrqInfoPayload.FLAG_AUTOMASKED) != 0);
        assertErrno(Errno.EINVAL, () -> client.irqInfo(ScratchDevice.NUM_IRQS));
    }

    @Test
    void deviceInterruptsReachTheClientsEventfds() throws Exception {
        VfioUserClient client = connect();
        List<EventFd> vectors = new ArrayList<>();
        for (int i = 0; i < ScratchDevice.MSIX_VECTORS; i++) {
            vectors.add(closeLater(EventFd.createNonBlocking()));
        }
        // 20 vectors: more than the 16 fds the server takes per message, so the client sends two messages.
        client.setIrqEventFds(ScratchDevice.MSIX, 0, vectors);
        for (int v : new int[] {0, 7, 16, 19}) {
            client.regionWrite(ScratchDevice.BAR0, ScratchDevice.REG_IRQ, u64(v));
            assertTrue(signalled(vectors.get(v)), "vector " + v);
        }
        assertEquals(0, vectors.get(1).read());
        // Removing a vector's eventfd: its interrupts go nowhere.
        List<EventFd> removal = Arrays.asList((EventFd) null);
        client.setIrqEventFds(ScratchDevice.MSIX, 7, removal);
        client.regionWrite(ScratchDevice.BAR0, ScratchDevice.REG_IRQ, u64(7));
        assertEquals(0, vectors.get(7).read());
        assertTrue(device.irq(ScratchDevice.MSIX).lostInterrupts() > 0);
    }

    @Test
    void maskedVectorsHoldTheirInterruptUntilUnmasked() throws Exception {
        VfioUserClient client = connect();
        EventFd vector = closeLater(EventFd.createNonBlocking());
        client.setIrqEventFds(ScratchDevice.MSIX, 3, List.of(vector));
        client.setIrqs(ScratchDevice.MSIX, IrqSetPayload.DATA_NONE | IrqSetPayload.ACTION_MASK, 3, 1,
                MemorySegment.NULL, List.of());
        client.regionWrite(ScratchDevice.BAR0, ScratchDevice.REG_IRQ, u64(3));
        assertEquals(0, vector.read());
        assertTrue(device.irq(ScratchDevice.MSIX).isPending(3));
        MemorySegment bools = MemorySegment.ofArray(new byte[] {1});
        client.setIrqs(ScratchDevice.MSIX, IrqSetPayload.DATA_BOOL | IrqSetPayload.ACTION_UNMASK, 3, 1, bools, List.of());
        assertTrue(signalled(vector));
        assertFalse(device.irq(ScratchDevice.MSIX).isPending(3));
    }

    @Test
    void clientCanTriggerAndDisableAnIndex() throws Exception {
        VfioUserClient client = connect();
        EventFd msi = closeLater(EventFd.createNonBlocking());
        client.setIrqEventFds(ScratchDevice.MSI, 0, List.of(msi));
        client.setIrqs(ScratchDevice.MSI, IrqSetPayload.DATA_NONE | IrqSetPayload.ACTION_TRIGGER, 0, 1,
                MemorySegment.NULL, List.of());
        assertTrue(signalled(msi));
        client.setIrqs(ScratchDevice.MSI, IrqSetPayload.DATA_NONE | IrqSetPayload.ACTION_TRIGGER, 0, 0,
                MemorySegment.NULL, List.of());
        assertFalse(device.irq(ScratchDevice.MSI).hasTrigger(0));
    }

    @Test
    void rejectsMalformedSetIrqs() throws Exception {
        VfioUserClient client = connect();
        long before = OpenFiles.descriptors();
        try (EventFd a = EventFd.create(); EventFd b = EventFd.create(); OwnedFd memfd = Memfd.create("x", 4096)) {
            int trigger = IrqSetPayload.DATA_EVENTFD | IrqSetPayload.ACTION_TRIGGER;
            assertErrno(Errno.EINVAL, () -> client.setIrqs(ScratchDevice.MSIX, trigger, 0, 1, MemorySegment.NULL,
                    List.of(a.fd(), b.fd())));
            assertErrno(Errno.EINVAL, () -> client.setIrqs(ScratchDevice.MSIX, trigger, ScratchDevice.MSIX_VECTORS, 1,
                    MemorySegment.NULL, List.of(a.fd())));
            assertErrno(Errno.EINVAL, () -> client.setIrqs(ScratchDevice.MSIX, trigger, -1, 2, MemorySegment.NULL,
                    List.of(a.fd(), b.fd())));
            assertErrno(Errno.EINVAL, () -> client.setIrqs(ScratchDevice.MSIX, trigger, 0, 1, MemorySegment.NULL,
                    List.of(memfd)));
            assertErrno(Errno.EINVAL, () -> client.setIrqs(ScratchDevice.MSIX,
                    IrqSetPayload.DATA_NONE | IrqSetPayload.DATA_BOOL | IrqSetPayload.ACTION_TRIGGER, 0, 1,
                    MemorySegment.NULL, List.of()));
            assertErrno(Errno.EINVAL, () -> client.setIrqs(ScratchDevice.MSIX,
                    IrqSetPayload.DATA_NONE | IrqSetPayload.ACTION_MASK | IrqSetPayload.ACTION_UNMASK, 0, 1,
                    MemorySegment.NULL, List.of()));
            assertErrno(Errno.EINVAL, () -> client.setIrqs(ScratchDevice.MSI,
                    IrqSetPayload.DATA_NONE | IrqSetPayload.ACTION_MASK, 0, 1, MemorySegment.NULL, List.of()));
            assertErrno(Errno.EINVAL, () -> client.setIrqs(ScratchDevice.MSIX,
                    IrqSetPayload.DATA_BOOL | IrqSetPayload.ACTION_TRIGGER, 0, 4, MemorySegment.ofArray(new byte[2]),
                    List.of()));
            assertErrno(Errno.EINVAL, () -> client.setIrqs(ScratchDevice.NUM_IRQS,
                    IrqSetPayload.DATA_NONE | IrqSetPayload.ACTION_TRIGGER, 0, 1, MemorySegment.NULL, List.of()));
        }
        assertFalse(device.irq(ScratchDevice.MSIX).hasTrigger(0));
        assertEquals(before, OpenFiles.descriptors(), "refused fds were closed on the server side");
    }

    @Test
    void intxMasksItselfUntilUnmasked() throws Exception {
        VfioUserClient client = connect();
        EventFd intx = closeLater(EventFd.createNonBlocking());
        client.setIrqEventFds(ScratchDevice.INTX, 0, List.of(intx));
        device.irq(ScratchDevice.INTX).trigger(0);
        assertTrue(signalled(intx));
        assertTrue(device.irq(ScratchDevice.INTX).isMasked(0));
        device.irq(ScratchDevice.INTX).trigger(0);
        assertEquals(0, intx.read(), "held while masked");
        client.setIrqs(ScratchDevice.INTX, IrqSetPayload.DATA_NONE | IrqSetPayload.ACTION_UNMASK, 0, 1,
                MemorySegment.NULL, List.of());
        assertTrue(signalled(intx), "the held interrupt is delivered on unmask");
    }

    // ---- doorbells -------------------------------------------------------------------------------

    @Test
    void passesDoorbellEventfdsForARegion() throws Exception {
        VfioUserClient client = connect();
        RegionIoFds io = client.regionIoFds(ScratchDevice.BAR0);
        try {
            assertEquals(2, io.subregions().size());
            assertEquals(2, io.fds().size());
            RegionIoFdsPayload.Subregion b = io.subregions().get(1);
            assertEquals(ScratchDevice.DOORBELL_B, b.offset());
            assertEquals(RegionIoFdsPayload.IOEVENTFD_FLAG_DATAMATCH, b.flags());
            assertEquals(0x1234, b.datamatch());
            // Ringing the client's copy is seen by the device: it is the same eventfd.
            try (EventFd ring = EventFd.adopt(io.fds().get(b.fdIndex()).duplicate())) {
                ring.signal();
            }
            assertEquals(1, device.doorbellB().read());
        } finally {
            io.fds().forEach(OwnedFd::close);
        }
        RegionIoFds none = client.regionIoFds(ScratchDevice.CONFIG);
        assertEquals(0, none.subregions().size());
        MemorySegment p = MemorySegment.ofArray(new byte[16]);
        new RegionIoFdsPayload(16, 1, ScratchDevice.BAR0, 0).encode(p);
        assertEquals(Errno.EINVAL, client.call(Command.DEVICE_GET_REGION_IO_FDS.code(), 0, p, List.of()).error());
    }

    // ---- features, migration ---------------------------------------------------------------------

    @Test
    void passesDeviceFeaturesToTheDevice() throws Exception {
        VfioUserClient client = connect();
        int scratch = ScratchDevice.FEATURE_SCRATCH;
        Reply get = client.deviceFeature(DeviceFeaturePayload.GET | scratch, MemorySegment.ofArray(new byte[0]), 64);
        DeviceFeaturePayload answer = DeviceFeaturePayload.decode(get.payload());
        assertEquals(8 + 8, answer.argsz());
        assertEquals(0x5ca7c4L, answer.data().get(JAVA_LONG_UNALIGNED, 0));
        client.deviceFeature(DeviceFeaturePayload.PROBE | DeviceFeaturePayload.GET | scratch,
                MemorySegment.ofArray(new byte[0]), 8);
        client.deviceFeature(DeviceFeaturePayload.SET | scratch, u64(1), 16);
        assertErrno(Errno.ENOTTY, () -> client.deviceFeature(DeviceFeaturePayload.GET
                | DeviceFeaturePayload.FEATURE_MIGRATION + 40, MemorySegment.ofArray(new byte[0]), 64));
        assertErrno(Errno.EINVAL, () -> client.deviceFeature(scratch, MemorySegment.ofArray(new byte[0]), 64));
        assertErrno(Errno.EINVAL, () -> client.deviceFeature(DeviceFeaturePayload.GET | DeviceFeaturePayload.SET | scratch,
                MemorySegment.ofArray(new byte[0]), 64));
        assertErrno(Errno.EINVAL, () -> client.deviceFeature((1 << 20) | scratch, MemorySegment.ofArray(new byte[0]), 64));
    }

    @Test
    void carriesMigrationDataBothWays() throws Exception {
        VfioUserClient client = connect();
        byte[] state = "device state, opaque to the server".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        client.migrationDataWrite(MemorySegment.ofArray(state));
        MemorySegment first = client.migrationDataRead(10);
        MemorySegment rest = client.migrationDataRead(1000);
        assertEquals(10, first.byteSize());
        assertEquals(state.length - 10, rest.byteSize(), "a short read marks the end of the stream");
        assertEquals(0, client.migrationDataRead(16).byteSize());
        assertErrno(Errno.E2BIG, () -> client.migrationDataRead(ServerOptions.DEFAULT_MAX_DATA_XFER_SIZE + 1));
    }

    // ---- malformed messages ----------------------------------------------------------------------

    @Test
    void answersUnknownCommandsAndBadFlagsWithErrors() throws Exception {
        VfioUserClient client = connect();
        MemorySegment empty = MemorySegment.ofArray(new byte[0]);
        assertEquals(Errno.ENOSYS, client.call(14, 0, empty, List.of()).error());
        assertEquals(Errno.ENOSYS, client.call(0, 0, empty, List.of()).error());
        assertEquals(Errno.ENOSYS, client.call(999, 0, empty, List.of()).error());
        assertEquals(Errno.EINVAL, client.call(Command.DEVICE_RESET.code(), 0x40, empty, List.of()).error());
        assertEquals(Errno.EINVAL, client.call(Command.DEVICE_RESET.code(), MessageHeader.ERROR, empty, List.of()).error());
        assertEquals(Errno.EINVAL, client.call(Command.DEVICE_RESET.code(), 0x2, empty, List.of()).error());
        assertEquals(0, device.resets());
        client.deviceInfo();
    }

    @Test
    void refusesDescriptorsWhereNoneBelongAndClosesThem() throws Exception {
        VfioUserClient client = connect();
        long before = OpenFiles.descriptors();
        try (EventFd stray = EventFd.create()) {
            MemorySegment p = MemorySegment.ofArray(new byte[16]);
            p.set(JAVA_INT_UNALIGNED, 0, 16);
            assertEquals(Errno.EINVAL, client.call(Command.DEVICE_GET_INFO.code(), 0, p, List.of(stray.fd())).error());
        }
        assertEquals(before, OpenFiles.descriptors());
    }

    @Test
    void discardsAnOversizedMessageAndCarriesOn() throws Exception {
        VfioUserClient client = connect();
        MemorySegment huge = MemorySegment.ofArray(new byte[ServerOptions.DEFAULT_MAX_DATA_XFER_SIZE + 4096]);
        RegionAccessHead.write(huge, 0, ScratchDevice.BAR1, (int) (huge.byteSize() - 16));
        assertEquals(Errno.E2BIG, client.call(Command.REGION_WRITE.code(), 0, huge, List.of()).error());
        client.regionWrite(ScratchDevice.BAR0, 0x40, u64(11));
        assertEquals(11L, client.regionRead(ScratchDevice.BAR0, 0x40, 8).get(JAVA_LONG_UNALIGNED, 0));
    }

    @Test
    void dropsAClientWhoseStreamCannotBeTrustedAndServesTheNext() throws Exception {
        VfioUserClient client = connect();
        MemorySegment broken = MemorySegment.ofArray(new byte[16]);
        MessageHeader.write(broken, 1, Command.DEVICE_GET_INFO.code(), 8, 0, 0);
        client.sendRaw(broken, List.of());
        assertTrue(server.awaitNoClient(10, TimeUnit.SECONDS));
        IOException e = assertThrows(IOException.class, client::deviceInfo);
        assertFalse(e instanceof VfioUserException);
        VfioUserClient next = connect();
        assertEquals(ScratchDevice.NUM_REGIONS, next.deviceInfo().numRegions());
    }

    @Test
    void clientSeesTheServerGoAway() throws Exception {
        VfioUserClient client = connect();
        server.close();
        IOException e = assertThrows(IOException.class, client::deviceInfo);
        assertInstanceOf(IOException.class, e);
        assertFalse(client.isConnected());
    }

    /** Writes the fixed part of a REGION_READ/WRITE payload. */
    private static final class RegionAccessHead {
        static void write(MemorySegment payload, long offset, int region, int count) {
            payload.set(JAVA_LONG_UNALIGNED, 0, offset);
            payload.set(JAVA_INT_UNALIGNED, 8, region);
            payload.set(JAVA_INT_UNALIGNED, 12, count);
        }
    }
}

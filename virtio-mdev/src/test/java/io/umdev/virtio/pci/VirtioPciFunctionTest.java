package io.umdev.virtio.pci;

import static io.umdev.virtio.pci.VirtioPciLayout.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.emudev.DeviceInterrupts;
import io.umdev.emudev.pci.PciRegisters;
import io.umdev.emudev.vfiouser.VfioUserAdapter;
import io.umdev.linux.EventFd;
import io.umdev.linux.LinuxException;
import io.umdev.vfiouser.client.RegionInfo;
import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.vfiouser.server.ServerOptions;
import io.umdev.vfiouser.server.VfioUserServer;
import io.umdev.virtio.driver.RamDiskDevice;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.SplitRing;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.testing.Await;
import io.umdev.virtio.testing.SplitDriver;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The virtio-pci personality through the real vfio-user client over a real socket: what a guest's
 * virtio_pci driver sees and does, request by request, against a RAM disk on the software device core.
 */
class VirtioPciFunctionTest {
    private static final long DISK_BYTES = 1 << 20;
    private static final int RING_SIZE = 16;
    private static final long FEATURES = VirtioFeature.bits(VirtioFeature.VERSION_1, VirtioFeature.ACCESS_PLATFORM,
            BlkSpec.F_BLK_SIZE, BlkSpec.F_FLUSH);
    private static final int OK = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK;

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();

    /** One served function: a RAM disk behind a VirtioPciFunction behind a VfioUserServer. */
    private record Served(DmaTable table, RamDiskDevice disk, VirtioPciFunction function, VfioUserServer server) {
    }

    private Served serve(String name) throws LinuxException, IOException {
        DmaTable table = new DmaTable(16);
        RamDiskDevice disk = new RamDiskDevice(table, DISK_BYTES, 1, 256, "disk-" + name);
        VirtioPciFunction function = new VirtioPciFunction(name, disk);
        function.emuDevice().configure();
        VfioUserServer server = VfioUserServer.start(dir.resolve(name + ".sock"), new VfioUserAdapter(function.emuDevice()),
                ServerOptions.defaults());
        open.add(disk);
        open.add(function);
        open.add(server);
        return new Served(table, disk, function, server);
    }

    private PciTestDriver connect(Served s) throws IOException, LinuxException {
        PciTestDriver d = new PciTestDriver(s.server().socketPath());
        open.add(d);
        return d;
    }

    private EventFd eventFd() throws LinuxException {
        EventFd e = EventFd.createNonBlocking();
        open.add(e);
        return e;
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private static void awaitSignal(EventFd fd) {
        Await.until("an interrupt on the eventfd", () -> {
            try {
                return fd.read() > 0;
            } catch (LinuxException e) {
                throw new AssertionError(e);
            }
        });
    }

    /** A driver with features negotiated, MSI-X on, queue 0 on a split ring signalling vector 0. */
    private SplitDriver ready(PciTestDriver d, EventFd queueIrq, EventFd configIrq) throws IOException {
        d.mapMemory();
        return setUp(d, queueIrq, configIrq);
    }

    /** As {@link #ready}, with the memory already mapped. */
    private SplitDriver setUp(PciTestDriver d, EventFd queueIrq, EventFd configIrq) throws IOException {
        d.enableMsix();
        d.installMsix(0, queueIrq);
        d.installMsix(1, configIrq);
        assertEquals(OK, d.negotiate(FEATURES));
        d.setCommon(MSIX_CONFIG, 2, 1);
        SplitDriver ring = d.ring(RING_SIZE);
        d.setUpQueue(0, ring, 0);
        d.setStatus(OK | DeviceStatus.DRIVER_OK);
        return ring;
    }

    /** Writes {@code data} at sector 0, reads it back into another buffer, returns the bytes read. */
    private static byte[] writeThenRead(PciTestDriver d, SplitDriver ring, byte[] data, EventFd irq) throws IOException {
        long out = PciTestDriver.BUFFERS + 0x1000;
        long in = PciTestDriver.BUFFERS + 0x2000;
        MemorySegment.copy(MemorySegment.ofArray(data), 0, d.memory.at(out, data.length), 0, data.length);
        int used = ring.usedIdx();
        ring.offer(ring.chain(d.blockRequest(BlkSpec.T_OUT, 0, out, data.length)));
        d.kick(0);
        awaitSignal(irq);
        Await.until("the write is used", () -> ring.usedIdx() == ((used + 1) & 0xffff));
        assertEquals(BlkSpec.S_OK, d.blockStatus());
        ring.offer(ring.chain(d.blockRequest(BlkSpec.T_IN, 0, in, data.length)));
        d.kick(0);
        awaitSignal(irq);
        Await.until("the read is used", () -> ring.usedIdx() == ((used + 2) & 0xffff));
        assertEquals(BlkSpec.S_OK, d.blockStatus());
        assertEquals(data.length + 1, ring.usedLen(used + 1));
        return d.memory.at(in, data.length).toArray(ValueLayout.JAVA_BYTE);
    }

    private static byte[] pattern(long seed) {
        byte[] b = new byte[4096];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void configSpaceIdentifiesAModernVirtioBlockFunctionAndItsCapabilitiesPointIntoBar4() throws Exception {
        Served s = serve("ids");
        PciTestDriver d = connect(s);
        assertEquals(VirtioId.PCI_VENDOR, d.config(PciRegisters.VENDOR_ID, 2));
        assertEquals(MODERN_DEVICE_ID_BASE + VirtioId.BLOCK, d.config(PciRegisters.DEVICE_ID, 2));
        assertEquals(REVISION, d.config(PciRegisters.REVISION_ID, 1));
        assertEquals(CLASS_STORAGE_SCSI, d.config(PciRegisters.CLASS_PROG, 3));
        assertEquals(VirtioId.PCI_VENDOR, d.config(PciRegisters.SUBSYSTEM_VENDOR_ID, 2));
        assertTrue(d.config(PciRegisters.SUBSYSTEM_ID, 2) >= 0x40, "non-transitional subsystem ID");
        assertEquals(PciRegisters.INTERRUPT_PIN_INTA, d.config(PciRegisters.INTERRUPT_PIN, 1));

        PciTestDriver.Cap common = d.caps.get(CAP_COMMON_CFG);
        PciTestDriver.Cap notify = d.caps.get(CAP_NOTIFY_CFG);
        PciTestDriver.Cap isr = d.caps.get(CAP_ISR_CFG);
        PciTestDriver.Cap device = d.caps.get(CAP_DEVICE_CFG);
        assertTrue(d.caps.containsKey(CAP_PCI_CFG), "PCI config access capability");
        for (PciTestDriver.Cap c : List.of(common, notify, isr, device)) {
            assertEquals(VIRTIO_BAR, c.bar());
            assertTrue(c.offset() + c.length() <= VIRTIO_BAR_SIZE, c::toString);
        }
        assertEquals(COMMON_CFG_SIZE, common.length());
        assertEquals(NOTIFY_OFF_MULTIPLIER, notify.extra());
        assertEquals(ISR_SIZE, isr.length());
        assertEquals(BlkSpec.CONFIG_SIZE, device.length());

        // BAR4: 64-bit prefetchable memory; BAR1 holds the MSI-X table and PBA; nothing mmap-able (posted writes).
        long bar4 = d.config(PciRegisters.barOffset(VIRTIO_BAR), 4);
        assertEquals(PciRegisters.BAR_MEMORY_TYPE_64 | PciRegisters.BAR_MEMORY_PREFETCH, bar4 & PciRegisters.BAR_MEMORY_FLAGS);
        RegionInfo region4 = d.client.regionInfo(VIRTIO_BAR);
        assertEquals(VIRTIO_BAR_SIZE, region4.size());
        assertFalse(region4.mappable());
        assertFalse(d.client.regionInfo(MSIX_BAR).mappable());
        assertTrue(d.msixCap > 0, "MSI-X capability");
        assertEquals(2 - 1, d.config(d.msixCap + PciRegisters.MSIX_CONTROL, 2) & PciRegisters.MSIX_CONTROL_TABLE_SIZE,
                "one vector per queue plus config");
        assertEquals(MSIX_BAR, d.config(d.msixCap + PciRegisters.MSIX_TABLE, 4) & PciRegisters.MSIX_BIR_MASK);
        assertEquals(2, d.client.irqInfo(DeviceInterrupts.MSIX_INDEX).count());

        // Device config straight from the device: the RAM disk's capacity in sectors.
        assertEquals(DISK_BYTES / BlkSpec.SECTOR_SIZE, d.deviceConfig(BlkSpec.CONFIG_CAPACITY, 8));
        assertEquals(1, d.common(NUM_QUEUES, 2));
    }

    @Test
    void featureWindowsOfferTheDeviceFeaturesLessUnsupportedTransportOnesAndStatusReachesTheDevice() throws Exception {
        Served s = serve("features");
        PciTestDriver d = connect(s);
        long offered = d.deviceFeatures();
        assertEquals(s.disk().deviceFeatures() & ~VirtioPciFunction.UNSUPPORTED_TRANSPORT_FEATURES, offered);
        assertTrue(VirtioFeature.has(offered, VirtioFeature.VERSION_1));
        d.setCommon(DEVICE_FEATURE_SELECT, 4, 7);
        assertEquals(0, d.common(DEVICE_FEATURE, 4), "a window beyond bit 63 reads 0");

        assertEquals(OK, d.negotiate(FEATURES));
        assertEquals(FEATURES, s.disk().driverFeatures());
        assertEquals(OK, s.disk().status());
        d.setCommon(DRIVER_FEATURE_SELECT, 4, 0);
        assertEquals(FEATURES & 0xffffffffL, d.common(DRIVER_FEATURE, 4));

        // A feature not offered: the device leaves FEATURES_OK clear, the driver reads that back.
        PciTestDriver again = d;
        again.setStatus(DeviceStatus.RESET);
        assertEquals(0, again.status());
        int refused = again.negotiate(FEATURES | VirtioFeature.bit(BlkSpec.F_ZONED));
        assertEquals(0, refused & DeviceStatus.FEATURES_OK);
    }

    @Test
    void aBlockWriteAndReadCompleteThroughClientMappedMemoryAndSignalTheQueueMsixEventfd() throws Exception {
        Served s = serve("io");
        PciTestDriver d = connect(s);
        EventFd queueIrq = eventFd();
        EventFd configIrq = eventFd();
        SplitDriver ring = ready(d, queueIrq, configIrq);
        assertSame(s.table(), s.function().emuDevice().dma(), "one DMA table: the device's address space 0");
        assertEquals(1, s.table().size(), "the client's DMA_MAP landed in the device's table");

        byte[] data = pattern(1);
        assertArrayEquals(data, writeThenRead(d, ring, data, queueIrq));
        assertArrayEquals(data, s.disk().contents().asSlice(0, data.length).toArray(ValueLayout.JAVA_BYTE),
                "the disk holds what the guest wrote");
        assertEquals(1, d.common(QUEUE_ENABLE, 2));
        assertEquals(0, configIrq.read(), "no config interrupt for ordinary I/O");
    }

    @Test
    void withoutMsixTheQueueInterruptRaisesIntxAndIsrReadsOnceThenClears() throws Exception {
        Served s = serve("intx");
        PciTestDriver d = connect(s);
        EventFd intx = eventFd();
        d.client.setIrqEventFds(DeviceInterrupts.INTX_INDEX, 0, List.of(intx));
        d.mapMemory();
        assertEquals(OK, d.negotiate(FEATURES));
        SplitDriver ring = d.ring(RING_SIZE);
        d.setUpQueue(0, ring, NO_VECTOR);
        d.setStatus(OK | DeviceStatus.DRIVER_OK);

        ring.offer(ring.chain(d.blockRequest(BlkSpec.T_GET_ID, 0, PciTestDriver.BUFFERS + 0x1000, BlkSpec.ID_BYTES)));
        d.kick(0);
        awaitSignal(intx);
        assertEquals(ISR_QUEUE, d.isr());
        assertEquals(0, d.isr(), "ISR is read-to-clear");
        assertEquals(BlkSpec.S_OK, d.blockStatus());
    }

    @Test
    void vectorsBeyondTheTableAndQueuesBeyondTheDeviceAreRefusedHarmlessly() throws Exception {
        Served s = serve("hostile-regs");
        PciTestDriver d = connect(s);
        d.setCommon(MSIX_CONFIG, 2, 2);
        assertEquals(NO_VECTOR, d.common(MSIX_CONFIG, 2));
        d.setCommon(QUEUE_SELECT, 2, 0);
        d.setCommon(QUEUE_MSIX_VECTOR, 2, 0x7ff);
        assertEquals(NO_VECTOR, d.common(QUEUE_MSIX_VECTOR, 2));
        d.setCommon(QUEUE_SIZE, 2, 4096);
        assertEquals(256, d.common(QUEUE_SIZE, 2), "a size above the maximum is refused");
        d.setCommon(QUEUE_SELECT, 2, 9);
        assertEquals(0, d.common(QUEUE_SIZE, 2));
        d.setCommon(QUEUE_ENABLE, 2, 1);
        assertEquals(0, d.common(QUEUE_ENABLE, 2));
        // Notify past the last queue, and at an offset between doorbells: nothing breaks.
        d.client.regionWritePosted(VIRTIO_BAR, NOTIFY_OFFSET + 1, PciTestDriver.bytes(1, 0));
        d.client.regionWrite(VIRTIO_BAR, d.caps.get(CAP_NOTIFY_CFG).offset(), PciTestDriver.bytes(2, 0));
        assertEquals(0, d.status());
        assertTrue(s.server().hasClient());
    }

    @Test
    void statusZeroResetsDeviceAndQueueRegistersAndTheNextDriverStartsAfresh() throws Exception {
        Served s = serve("reset");
        PciTestDriver d = connect(s);
        EventFd irq = eventFd();
        SplitDriver ring = ready(d, irq, eventFd());
        writeThenRead(d, ring, pattern(2), irq);

        d.setStatus(DeviceStatus.RESET);
        assertEquals(0, d.status(), "reset is complete when the driver reads status back");
        assertEquals(0, s.disk().status());
        assertEquals(0, d.common(QUEUE_ENABLE, 2));
        assertEquals(NO_VECTOR, d.common(QUEUE_MSIX_VECTOR, 2));
        assertEquals(NO_VECTOR, d.common(MSIX_CONFIG, 2));
        assertFalse(s.disk().queueReady(0));
        assertTrue(s.function().emuDevice().interrupts().msix().enabled(), "a virtio reset leaves PCI config alone");

        // Reboot: the driver sets the device up again on fresh rings.
        assertEquals(OK, d.negotiate(FEATURES));
        d.setCommon(MSIX_CONFIG, 2, 1);
        SplitDriver fresh = d.ring(RING_SIZE);
        d.setUpQueue(0, fresh, 0);
        d.setStatus(OK | DeviceStatus.DRIVER_OK);
        byte[] data = pattern(3);
        assertArrayEquals(data, writeThenRead(d, fresh, data, irq));
    }

    @Test
    void deviceResetMessageAndAClientThatLeavesMidRunLeaveTheFunctionReusable() throws Exception {
        Served s = serve("reuse");
        PciTestDriver first = connect(s);
        EventFd irq = eventFd();
        SplitDriver ring = ready(first, irq, eventFd());
        writeThenRead(first, ring, pattern(4), irq);
        first.client.reset();
        assertEquals(0, first.status());
        assertFalse(s.function().emuDevice().interrupts().msix().enabled(), "DEVICE_RESET resets the function");
        assertEquals(1, s.table().size(), "DEVICE_RESET keeps the client's memory mapped, as VFIO does");

        // Set up again, then leave without a word, a request in flight.
        ring = setUp(first, irq, eventFd());
        ring.offer(ring.chain(first.blockRequest(BlkSpec.T_OUT, 8, PciTestDriver.BUFFERS + 0x1000, 4096)));
        first.kick(0);
        first.close();
        assertTrue(s.server().awaitNoClient(20, TimeUnit.SECONDS));
        assertEquals(0, s.disk().status());
        assertEquals(0, s.table().size(), "the departed client's memory is unmapped");

        PciTestDriver second = connect(s);
        EventFd irq2 = eventFd();
        SplitDriver ring2 = ready(second, irq2, eventFd());
        byte[] data = pattern(5);
        assertArrayEquals(data, writeThenRead(second, ring2, data, irq2));
    }

    @Test
    void aDescriptorLoopPutsOnlyThatFunctionInNeedsResetWithAConfigInterruptWhileAnotherKeepsWorking() throws Exception {
        Served bad = serve("bad");
        Served good = serve("good");
        PciTestDriver b = connect(bad);
        PciTestDriver g = connect(good);
        EventFd badQueue = eventFd();
        EventFd badConfig = eventFd();
        SplitDriver badRing = ready(b, badQueue, badConfig);
        EventFd goodQueue = eventFd();
        SplitDriver goodRing = ready(g, goodQueue, eventFd());

        // Descriptor 0 chains to itself: a loop the device must refuse.
        badRing.writeDesc(0, PciTestDriver.BUFFERS, BlkSpec.REQ_HDR_SIZE, SplitRing.DESC_F_NEXT, 0);
        badRing.offer(0);
        b.kick(0);
        awaitSignal(badConfig);
        assertTrue(DeviceStatus.has(b.status(), DeviceStatus.NEEDS_RESET), () -> "status " + DeviceStatus.describe(
                bad.disk().status()));
        assertEquals(0, badRing.usedIdx(), "nothing published for the broken ring");

        byte[] data = pattern(6);
        assertArrayEquals(data, writeThenRead(g, goodRing, data, goodQueue));
        assertEquals(0, g.status() & DeviceStatus.NEEDS_RESET);

        // The broken one recovers with a reset.
        b.setStatus(DeviceStatus.RESET);
        assertEquals(0, b.status());
        assertNotEquals(0, b.negotiate(FEATURES) & DeviceStatus.FEATURES_OK);
    }

    @Test
    void pciConfigAccessCapabilityReadsAndWritesBar4ThroughConfigSpace() throws Exception {
        Served s = serve("cfg-access");
        PciTestDriver d = connect(s);
        int at = d.caps.get(CAP_PCI_CFG).at();
        // Select the common config's num_queues through the window and read it.
        d.writeConfig(at + CAP_BAR, 1, VIRTIO_BAR);
        d.writeConfig(at + CAP_LENGTH, 4, 2);
        d.writeConfig(at + CAP_OFFSET, 4, COMMON_OFFSET + NUM_QUEUES);
        assertEquals(1, d.config(at + CAP_PCI_CFG_DATA, 2));
        // Write device_status = ACKNOWLEDGE through it.
        d.writeConfig(at + CAP_LENGTH, 4, 1);
        d.writeConfig(at + CAP_OFFSET, 4, COMMON_OFFSET + DEVICE_STATUS);
        d.writeConfig(at + CAP_PCI_CFG_DATA, 1, DeviceStatus.ACKNOWLEDGE);
        assertEquals(DeviceStatus.ACKNOWLEDGE, d.status());
    }
}

package io.umdev.virtio.transport;

import static io.umdev.virtio.spec.DeviceStatus.ACKNOWLEDGE;
import static io.umdev.virtio.spec.DeviceStatus.DRIVER;
import static io.umdev.virtio.spec.DeviceStatus.DRIVER_OK;
import static io.umdev.virtio.spec.DeviceStatus.FEATURES_OK;
import static io.umdev.virtio.spec.DeviceStatus.NEEDS_RESET;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.mdev.DeviceApi;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.testing.Await;
import io.umdev.virtio.testing.EchoDevice;
import io.umdev.virtio.testing.GuestMemory;
import io.umdev.virtio.testing.PackedDriver;
import io.umdev.virtio.testing.SplitDriver;
import io.umdev.vfiouser.dma.DmaTable;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SoftwareVirtioDeviceTest {
    private static final long IOVA = 0x10000;
    private static final long SIZE = 1 << 20;
    private static final int QSIZE = 16;
    private static final long RINGS = IOVA;
    private static final long RINGS1 = IOVA + 0x20000;
    private static final long BUFFERS = IOVA + 0x40000;
    private static final long FEATURES = VirtioFeature.bit(VirtioFeature.VERSION_1);

    private DmaTable table;
    private GuestMemory memory;
    private EchoDevice device;
    private final AtomicInteger interrupts = new AtomicInteger();
    private final AtomicInteger configChanges = new AtomicInteger();

    @BeforeEach
    void setUp() throws Exception {
        table = new DmaTable(16);
        memory = GuestMemory.map(table, IOVA, SIZE);
        device = new EchoDevice(table, QSIZE);
        device.setConfigChangeListener(configChanges::incrementAndGet);
    }

    @AfterEach
    void tearDown() {
        device.close();
        assertTrue(memory.guardsIntact(), "nothing was written outside the mapped memory");
        memory.close();
        table.close();
    }

    private void negotiate(long features) {
        device.setStatus(ACKNOWLEDGE);
        device.setStatus(ACKNOWLEDGE | DRIVER);
        device.setDriverFeatures(features);
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK);
    }

    private SplitDriver splitQueue(int q, long base) {
        SplitDriver d = new SplitDriver(memory, base, QSIZE);
        device.setQueueSize(q, QSIZE);
        device.setQueueAddress(q, d.desc, d.avail, d.used);
        device.setQueueInterrupt(q, interrupts::incrementAndGet);
        device.setQueueReady(q, true);
        return d;
    }

    private void driverOk() {
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
    }

    /** One 8-byte readable buffer with {@code value} and one 8-byte writable buffer, at slot {@code n}. */
    private int echoRequest(SplitDriver d, int n, byte value) {
        long in = BUFFERS + n * 64L;
        memory.at(in, 8).fill(value);
        memory.at(in + 32, 8).fill((byte) 0);
        return d.chain(new long[] {in, 8, 0}, new long[] {in + 32, 8, 1});
    }

    @Test
    void isAVirtioDeviceOnTheBus() {
        assertEquals(DeviceApi.VIRTIO, device.deviceApi());
        assertEquals(device, device.unwrap(VirtioDevice.class).orElseThrow());
        assertEquals(EchoDevice.DEVICE_ID, device.deviceId());
        assertTrue(VirtioFeature.has(device.deviceFeatures(), VirtioFeature.RING_PACKED));
    }

    @Test
    void refusesFeaturesThatWereNotOffered() {
        negotiate(FEATURES | VirtioFeature.bit(VirtioFeature.NOTIFICATION_DATA));
        assertEquals(ACKNOWLEDGE | DRIVER, device.status(), "FEATURES_OK stays clear");
    }

    @Test
    void refusesFeaturesWithoutVersion1() {
        negotiate(0);
        assertFalse((device.status() & FEATURES_OK) != 0);
    }

    @Test
    void refusesFeaturesTheDeviceClassRejects() {
        negotiate(FEATURES | (1L << EchoDevice.FEATURE_FORBIDDEN_ALONE));
        assertEquals(ACKNOWLEDGE | DRIVER, device.status());
        device.reset();
        negotiate(FEATURES | (1L << EchoDevice.FEATURE_FORBIDDEN_ALONE) | (1L << EchoDevice.FEATURE_FANCY));
        assertEquals(ACKNOWLEDGE | DRIVER | FEATURES_OK, device.status());
    }

    @Test
    void featuresAreLockedOnceFeaturesOkIsSet() {
        negotiate(FEATURES);
        VirtioException e = assertThrows(VirtioException.class, () -> device.setDriverFeatures(FEATURES | 1));
        assertEquals(Errno.EBUSY, e.errno());
        assertEquals(FEATURES, device.driverFeatures());
    }

    @Test
    void refusesClearingStatusBitsExceptByReset() {
        negotiate(FEATURES);
        VirtioException e = assertThrows(VirtioException.class, () -> device.setStatus(ACKNOWLEDGE));
        assertEquals(Errno.EINVAL, e.errno());
        device.setStatus(0);
        assertEquals(0, device.status());
    }

    @Test
    void driverOkWithoutFeaturesOkDoesNotStart() {
        device.setStatus(ACKNOWLEDGE | DRIVER | DRIVER_OK);
        assertEquals(ACKNOWLEDGE | DRIVER, device.status());
        assertEquals(0, device.starts);
    }

    @Test
    void driverOkStartsTheQueuesAndRequestsAreAnswered() {
        negotiate(FEATURES);
        SplitDriver d = splitQueue(0, RINGS);
        d.offer(echoRequest(d, 0, (byte) 7));
        assertEquals(0, d.usedIdx(), "nothing is processed before DRIVER_OK");
        driverOk();
        assertEquals(1, device.starts);
        Await.until("the request is used", () -> d.usedIdx() == 1);
        assertEquals(0, d.usedId(0));
        assertEquals(8, d.usedLen(0));
        assertTrue(memory.unchanged(BUFFERS + 32, 8, (byte) 7), "echoed");
        Await.until("an interrupt", () -> interrupts.get() == 1);

        d.offer(echoRequest(d, 1, (byte) 9));
        device.kick(0);
        Await.until("the second request is used", () -> d.usedIdx() == 2);
        assertTrue(memory.unchanged(BUFFERS + 64 + 32, 8, (byte) 9));
        QueueStatistics s = device.queueStatistics(0);
        assertEquals(2, s.requests());
        assertEquals(1, s.kicks());
        assertEquals(32, s.bytes());
    }

    @Test
    void queuesEnabledAfterDriverOkStartAtOnce() {
        negotiate(FEATURES);
        driverOk();
        SplitDriver d = splitQueue(0, RINGS);
        d.offer(echoRequest(d, 0, (byte) 3));
        device.kick(0);
        Await.until("used", () -> d.usedIdx() == 1);
    }

    @Test
    void resetClearsEverything() {
        negotiate(FEATURES);
        SplitDriver d = splitQueue(0, RINGS);
        driverOk();
        d.offer(echoRequest(d, 0, (byte) 1));
        device.kick(0);
        Await.until("used", () -> d.usedIdx() == 1);

        device.reset();
        assertEquals(0, device.status());
        assertEquals(0, device.driverFeatures());
        assertFalse(device.queueReady(0));
        assertEquals(new SplitQueueState(0), device.queueState(0));
        assertEquals(1, device.stops);
        assertEquals(1, device.resets);

        // The driver starts over on fresh rings; the old position is gone.
        negotiate(FEATURES);
        SplitDriver fresh = splitQueue(0, RINGS1);
        driverOk();
        fresh.offer(echoRequest(fresh, 2, (byte) 4));
        device.kick(0);
        Await.until("used after reset", () -> fresh.usedIdx() == 1);
        assertEquals(0, fresh.usedId(0));
    }

    @Test
    void suspendStopsProcessingAndKicksMeanwhileAreHandledAfterResume() {
        negotiate(FEATURES);
        SplitDriver d = splitQueue(0, RINGS);
        driverOk();
        device.suspend();
        assertTrue(device.isSuspended());
        d.offer(echoRequest(d, 0, (byte) 5));
        device.kick(0);
        Await.settle();
        assertEquals(0, d.usedIdx(), "a suspended device uses nothing");
        assertEquals(new SplitQueueState(0), device.queueState(0));

        device.resume();
        Await.until("the kick from the suspended period is served", () -> d.usedIdx() == 1);
        assertEquals(new SplitQueueState(1), device.queueState(0));
    }

    @Test
    void queueStateIsRestoredWhileSuspendedAndProcessingResumesThere() {
        negotiate(FEATURES);
        SplitDriver d = splitQueue(0, RINGS);
        driverOk();
        d.offer(echoRequest(d, 0, (byte) 1));
        device.kick(0);
        Await.until("first used", () -> d.usedIdx() == 1);

        device.suspend();
        assertThrows(VirtioException.class, () -> device.setQueueState(0, PackedQueueState.initial()),
                "wrong layout");
        // Pretend a second buffer was consumed elsewhere (e.g. by the migration source): skip it.
        d.offer(echoRequest(d, 1, (byte) 2));
        d.offer(echoRequest(d, 2, (byte) 3));
        device.setQueueState(0, new SplitQueueState(2));
        device.resume();
        Await.until("the third buffer is used", () -> d.usedIdx() == 3);
        assertEquals(d.usedId(2), 4, "head of the third chain (descriptors 4 and 5)");
        assertTrue(memory.unchanged(BUFFERS + 64 + 32, 8, (byte) 0), "the skipped buffer was not touched");
        assertTrue(memory.unchanged(BUFFERS + 128 + 32, 8, (byte) 3));
    }

    @Test
    void settingQueueStateWhileRunningIsRefused() {
        negotiate(FEATURES);
        splitQueue(0, RINGS);
        driverOk();
        VirtioException e = assertThrows(VirtioException.class, () -> device.setQueueState(0, new SplitQueueState(3)));
        assertEquals(Errno.EBUSY, e.errno());
        assertThrows(VirtioException.class, () -> device.setQueueAddress(0, 0, 0, 0));
    }

    @Test
    void configGenerationChangesWhenConfigChanges() {
        MemorySegment buf = MemorySegment.ofArray(new byte[1]);
        device.readConfig(0, buf);
        assertEquals(1, buf.get(ValueLayout.JAVA_BYTE, 0));
        int generation = device.configGeneration();
        int changes = configChanges.get();
        device.setConfigByte((byte) 42);
        assertNotEquals(generation, device.configGeneration());
        assertEquals(changes + 1, configChanges.get());
        device.readConfig(0, buf);
        assertEquals(42, buf.get(ValueLayout.JAVA_BYTE, 0));
        assertThrows(VirtioException.class, () -> device.readConfig(7, MemorySegment.ofArray(new byte[2])));
    }

    @Test
    void hostileRingMarksTheDeviceNeedsResetWithTheReasonAndAConfigInterrupt() {
        negotiate(FEATURES);
        SplitDriver d = splitQueue(0, RINGS);
        driverOk();
        int changes = configChanges.get();
        d.writeDesc(0, memory.end(), 64, 0, 0); // a buffer past the mapping
        d.offer(0);
        device.kick(0);
        Await.until("NEEDS_RESET", () -> (device.status() & NEEDS_RESET) != 0);
        assertTrue(device.needsResetReason().contains("not usable"), device.needsResetReason());
        assertEquals(changes + 1, configChanges.get());
        assertEquals(0, d.usedIdx());
        assertFalse(device.isRunning());
        assertEquals(1, device.queueStatistics(0).errors());

        device.reset();
        assertNull(device.needsResetReason());
        assertEquals(0, device.status());
    }

    @Test
    void requestServiceDeliversWorkTheDriverDidNotKickFor() {
        negotiate(FEATURES);
        SplitDriver rx = splitQueue(1, RINGS1);
        driverOk();
        rx.offer(rx.chain(new long[] {BUFFERS, 16, 1}));
        rx.offer(rx.chain(new long[] {BUFFERS + 16, 16, 1}));
        device.kick(1);
        Await.settle();
        assertEquals(0, rx.usedIdx(), "no frame yet: the buffers stay available");

        device.post();
        Await.until("one frame received", () -> rx.usedIdx() == 1);
        assertTrue(memory.unchanged(BUFFERS, 16, EchoDevice.RX_FILL));
        assertTrue(memory.unchanged(BUFFERS + 16, 16, GuestMemory.CANARY), "second buffer still unused");
        device.post();
        Await.until("second frame received", () -> rx.usedIdx() == 2);
    }

    @Test
    void packedQueuesRunWhenRingPackedIsNegotiated() {
        negotiate(FEATURES | VirtioFeature.bit(VirtioFeature.RING_PACKED));
        PackedDriver d = new PackedDriver(memory, RINGS, QSIZE);
        device.setQueueSize(0, QSIZE);
        device.setQueueAddress(0, d.desc, d.driverEvent, d.deviceEvent);
        device.setQueueReady(0, true);
        assertEquals(PackedQueueState.initial(), device.queueState(0));
        driverOk();
        memory.at(BUFFERS, 8).fill((byte) 6);
        int head = d.add(3, 0, new long[] {BUFFERS, 8, 0}, new long[] {BUFFERS + 32, 8, 1});
        device.kick(0);
        Await.until("used", () -> d.isUsed(head, true));
        assertEquals(3, d.idAt(head));
        assertEquals(8, d.lenAt(head));
        assertTrue(memory.unchanged(BUFFERS + 32, 8, (byte) 6));
        assertEquals(new PackedQueueState(2, true, 2, true), device.queueState(0));
    }

    @Test
    void queuesAreServedIndependently() {
        negotiate(FEATURES);
        SplitDriver tx = splitQueue(0, RINGS);
        SplitDriver rx = splitQueue(1, RINGS1);
        driverOk();
        rx.offer(rx.chain(new long[] {BUFFERS + 0x1000, 16, 1}));
        for (int n = 0; n < 3; n++) {
            tx.offer(echoRequest(tx, n, (byte) (n + 1)));
        }
        device.kick(0);
        device.kick(1); // nothing to receive: queue 1 defers, queue 0 is not held up
        Await.until("queue 0 served", () -> tx.usedIdx() == 3);
        assertEquals(0, rx.usedIdx());
        assertEquals(new SplitQueueState(0), device.queueState(1));
        assertEquals(new SplitQueueState(3), device.queueState(0));
        assertEquals(0, device.queueStatistics(1).requests());

        device.post();
        Await.until("queue 1 served", () -> rx.usedIdx() == 1);
        assertEquals(new SplitQueueState(3), device.queueState(0), "queue 0 untouched by queue 1's work");
        assertEquals(1, device.queueStatistics(1).requests());
        assertEquals(3, device.queueStatistics(0).requests());
    }

    @Test
    void packedQueueStateIsRestoredWhileSuspendedAndProcessingResumesThere() {
        negotiate(FEATURES | VirtioFeature.bit(VirtioFeature.RING_PACKED));
        PackedDriver d = new PackedDriver(memory, RINGS, 4);
        device.setQueueSize(0, 4);
        device.setQueueAddress(0, d.desc, d.driverEvent, d.deviceEvent);
        device.setQueueReady(0, true);
        driverOk();
        for (int n = 0; n < 3; n++) {
            // A 4-slot ring holds two 2-descriptor chains: wait for each before reusing its slots.
            d.add(n, 0, new long[] {BUFFERS, 8, 0}, new long[] {BUFFERS + 32, 8, 1});
            device.kick(0);
            int done = n + 1;
            Await.until("buffer " + n + " used", () -> device.queueStatistics(0).requests() == done);
        }
        assertEquals(new PackedQueueState(2, false, 2, false), device.queueState(0), "6 slots of a 4-slot ring");

        device.suspend();
        // The next buffer (id 3) goes at position 2 of lap two; restore there from a saved state.
        PackedQueueState saved = (PackedQueueState) device.queueState(0);
        device.setQueueState(0, PackedQueueState.initial());
        device.setQueueState(0, saved);
        memory.at(BUFFERS + 0x100, 8).fill((byte) 8);
        int head = d.add(3, 0, new long[] {BUFFERS + 0x100, 8, 0}, new long[] {BUFFERS + 0x140, 8, 1});
        device.kick(0);
        Await.settle();
        assertFalse(d.isUsed(head, false), "nothing while suspended");
        device.resume();
        Await.until("the fourth buffer is used", () -> d.isUsed(head, false));
        assertEquals(3, d.idAt(head));
        assertTrue(memory.unchanged(BUFFERS + 0x140, 8, (byte) 8));
        assertEquals(new PackedQueueState(0, true, 0, true), device.queueState(0));
    }

    @Test
    void aQueueGroupMovedToAnotherAddressSpaceUsesThatSpacesMemory() throws Exception {
        device.close();
        device = new EchoDevice(table, QSIZE, 2);
        assertEquals(2, device.addressSpaceCount());
        assertEquals(1, device.queueGroup(1));
        assertEquals(table, device.addressSpace(0));
        // Address space 1 maps different memory at the same IOVAs.
        try (GuestMemory shadow = GuestMemory.map(device.addressSpace(1), IOVA, SIZE)) {
            device.setGroupAddressSpace(1, 1);
            negotiate(FEATURES);
            SplitDriver rx = new SplitDriver(shadow, RINGS1, QSIZE);
            device.setQueueSize(1, QSIZE);
            device.setQueueAddress(1, rx.desc, rx.avail, rx.used);
            device.setQueueReady(1, true);
            SplitDriver tx = splitQueue(0, RINGS);
            driverOk();
            assertThrows(VirtioException.class, () -> device.setGroupAddressSpace(1, 0), "fixed after DRIVER_OK");

            rx.offer(rx.chain(new long[] {BUFFERS, 16, 1}));
            device.post();
            Await.until("received into address space 1", () -> rx.usedIdx() == 1);
            assertTrue(shadow.unchanged(BUFFERS, 16, EchoDevice.RX_FILL));
            assertTrue(memory.unchanged(BUFFERS, 16, GuestMemory.CANARY), "address space 0 untouched");

            tx.offer(echoRequest(tx, 0, (byte) 4));
            device.kick(0);
            Await.until("queue 0 still in address space 0", () -> tx.usedIdx() == 1);
            assertTrue(shadow.guardsIntact());
        }
    }

    @Test
    void eventFdInterruptSignalsTheClientsEventFd() throws Exception {
        try (EventFd call = EventFd.createNonBlocking()) {
            negotiate(FEATURES);
            SplitDriver d = splitQueue(0, RINGS);
            device.setQueueInterrupt(0, QueueInterrupt.of(call));
            driverOk();
            d.offer(echoRequest(d, 0, (byte) 1));
            device.kick(0);
            Await.until("used", () -> d.usedIdx() == 1);
            Await.until("the eventfd was signalled", () -> {
                try {
                    return call.read() > 0;
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            assertEquals(1, device.queueStatistics(0).interrupts());
        }
    }

    @Test
    void dirtyLogRecordsEveryWriteToClientMemory() {
        List<long[]> dirty = Collections.synchronizedList(new ArrayList<>());
        device.setDirtyLog((iova, length) -> dirty.add(new long[] {iova, length}));
        negotiate(FEATURES);
        SplitDriver d = splitQueue(0, RINGS);
        driverOk();
        d.offer(echoRequest(d, 0, (byte) 1));
        device.kick(0);
        Await.until("used", () -> d.usedIdx() == 1);
        Await.until("logged", () -> dirty.size() >= 2);
        synchronized (dirty) {
            assertTrue(dirty.stream().anyMatch(r -> r[0] == BUFFERS + 32 && r[1] == 8), "the written buffer");
            assertTrue(dirty.stream().anyMatch(r -> r[0] <= d.used && r[0] + r[1] >= d.used + 4), "the used ring");
            assertTrue(dirty.stream().noneMatch(r -> r[0] == BUFFERS), "the buffer only read is not dirty");
        }
        device.setDirtyLog(null);
        int before = dirty.size();
        d.offer(echoRequest(d, 1, (byte) 2));
        device.kick(0);
        Await.until("used", () -> d.usedIdx() == 2);
        assertEquals(before, dirty.size(), "logging is off");
    }

    @Test
    void rejectsBadQueueArguments() {
        assertThrows(VirtioException.class, () -> device.setQueueSize(2, 8));
        assertThrows(VirtioException.class, () -> device.setQueueSize(0, QSIZE * 2));
        assertThrows(VirtioException.class, () -> device.setGroupAddressSpace(0, 1));
        device.kick(99); // ignored, not thrown
        assertThrows(VirtioException.class, () -> device.queueMaxSize(-1));
        assertEquals(QSIZE, device.queueMaxSize(1));
    }
}

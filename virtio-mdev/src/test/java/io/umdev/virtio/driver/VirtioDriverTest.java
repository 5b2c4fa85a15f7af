package io.umdev.virtio.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.PackedRing;
import io.umdev.virtio.spec.SplitRing;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.transport.RequestHandler;
import io.umdev.virtio.transport.SoftwareVirtioDevice;
import io.umdev.virtio.transport.VirtioException;
import io.umdev.vfiouser.dma.DmaTable;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The generic driver: negotiation, refusal, a hostile device's used entries, NEEDS_RESET, and what close releases. */
class VirtioDriverTest {
    private static final int QUEUE_SIZE = 16;

    private final DmaTable dma = new DmaTable(16);

    @AfterEach
    void closeTable() {
        dma.close();
    }

    /** A device that never answers (every buffer is left available), refusing features on demand. */
    private static final class HoldingDevice extends SoftwareVirtioDevice {
        private final boolean refuse;

        HoldingDevice(DmaTable dma, long withoutFeatures, boolean refuse) {
            super(definition(withoutFeatures), dma);
            this.refuse = refuse;
        }

        private static Definition definition(long withoutFeatures) {
            Definition d = Definition.of("holding", VirtioId.BLOCK, 0, 2, QUEUE_SIZE, BlkSpec.CONFIG_SIZE);
            return d.withFeatures(d.features() & ~withoutFeatures);
        }

        @Override
        protected RequestHandler requestHandler(int q) {
            return chain -> RequestHandler.DEFER;
        }

        @Override
        protected void validateFeatures(long features) {
            if (refuse) {
                throw VirtioException.invalid("this device refuses every feature set");
            }
        }
    }

    @Test
    void aRefusedFeatureSetFailsTheOpenAndLeavesTheDeviceReset() {
        try (HoldingDevice device = new HoldingDevice(dma, 0, true)) {
            VirtioDriverException e = assertThrows(VirtioDriverException.class,
                    () -> VirtioDriver.open(device, 0, DriverOptions.defaults()));
            assertEquals(Errno.EIO, e.errno());
            assertTrue(e.getMessage().contains("refused"), e.getMessage());
            assertEquals(DeviceStatus.RESET, device.status());
        }
    }

    @Test
    void packedRingsAreUsedWhenOfferedAndSplitOnesWhenForced() throws Exception {
        try (HoldingDevice device = new HoldingDevice(dma, 0, false)) {
            try (VirtioDriver auto = VirtioDriver.open(device, 0, DriverOptions.defaults())) {
                assertTrue(auto.packed());
                assertTrue(VirtioFeature.has(device.driverFeatures(), VirtioFeature.RING_PACKED));
            }
            try (VirtioDriver split = VirtioDriver.open(device, 0, DriverOptions.defaults().withRingLayout(RingLayout.SPLIT))) {
                assertFalse(split.packed());
                assertFalse(VirtioFeature.has(device.driverFeatures(), VirtioFeature.RING_PACKED));
            }
        }
    }

    @Test
    void askingForPackedRingsFromADeviceWithoutThemFails() {
        try (HoldingDevice device = new HoldingDevice(dma, VirtioFeature.bit(VirtioFeature.RING_PACKED), false)) {
            VirtioDriverException e = assertThrows(VirtioDriverException.class,
                    () -> VirtioDriver.open(device, 0, DriverOptions.defaults().withRingLayout(RingLayout.PACKED)));
            assertEquals(Errno.EOPNOTSUPP, e.errno());
        }
    }

    @Test
    void onlyFeaturesBothSidesKnowAreAccepted() throws Exception {
        try (HoldingDevice device = new HoldingDevice(dma, 0, false);
                VirtioDriver driver = VirtioDriver.open(device, VirtioFeature.bits(BlkSpec.F_FLUSH, BlkSpec.F_RO),
                        DriverOptions.defaults().withEventIndex(false).withIndirect(false))) {
            long f = driver.features();
            assertTrue(VirtioFeature.has(f, VirtioFeature.VERSION_1));
            assertFalse(VirtioFeature.has(f, BlkSpec.F_FLUSH), "not offered by this device");
            assertFalse(VirtioFeature.has(f, VirtioFeature.RING_EVENT_IDX), "turned off in the options");
            assertFalse(VirtioFeature.has(f, VirtioFeature.RING_INDIRECT_DESC), "turned off in the options");
            assertFalse(VirtioFeature.has(f, VirtioFeature.IN_ORDER), "offered, but the driver does not implement it");
            assertEquals(f, device.driverFeatures());
        }
    }

    private static BufferChain oneWritable(VirtioDriver driver, long offset, int length) {
        return new BufferChain(1).writable(driver.memory().iovaOf(offset), length);
    }

    @ParameterizedTest
    @EnumSource(value = RingLayout.class, names = {"SPLIT", "PACKED"})
    void aUsedEntryNamingNoBufferInFlightBreaksTheQueue(RingLayout layout) throws Exception {
        try (HoldingDevice device = new HoldingDevice(dma, 0, false);
                VirtioDriver driver = VirtioDriver.open(device, 0, DriverOptions.defaults().withRingLayout(layout))) {
            long buffer = driver.reserve(512, 64);
            driver.start(1);
            DriverQueue q = driver.queue(0);
            assertTrue(q.add(oneWritable(driver, buffer, 512), 5));
            q.kick();
            fakeUsed(driver, q, 999, 0);
            assertEquals(DriverQueue.NONE, q.poll());
            assertTrue(q.isBroken());
            assertTrue(q.brokenReason().contains("not in flight"), q.brokenReason());
            assertFalse(q.add(oneWritable(driver, buffer, 512), 6), "a broken queue takes nothing more");
            VirtioDriverException e = assertThrows(VirtioDriverException.class, q::checkHealthy);
            assertEquals(Errno.EIO, e.errno());
        }
    }

    @ParameterizedTest
    @EnumSource(value = RingLayout.class, names = {"SPLIT", "PACKED"})
    void aUsedLengthBeyondTheBufferBreaksTheQueue(RingLayout layout) throws Exception {
        try (HoldingDevice device = new HoldingDevice(dma, 0, false);
                VirtioDriver driver = VirtioDriver.open(device, 0, DriverOptions.defaults().withRingLayout(layout))) {
            long buffer = driver.reserve(512, 64);
            driver.start(1);
            DriverQueue q = driver.queue(0);
            assertTrue(q.add(oneWritable(driver, buffer, 512), 5));
            // Buffer id / head 0 is the one just added, in both layouts.
            fakeUsed(driver, q, 0, 513);
            assertEquals(DriverQueue.NONE, q.poll());
            assertTrue(q.brokenReason().contains("513"), q.brokenReason());
        }
    }

    @ParameterizedTest
    @EnumSource(value = RingLayout.class, names = {"SPLIT", "PACKED"})
    void aTruthfulUsedEntryIsAccepted(RingLayout layout) throws Exception {
        try (HoldingDevice device = new HoldingDevice(dma, 0, false);
                VirtioDriver driver = VirtioDriver.open(device, 0, DriverOptions.defaults().withRingLayout(layout))) {
            long buffer = driver.reserve(512, 64);
            driver.start(1);
            DriverQueue q = driver.queue(0);
            assertTrue(q.add(oneWritable(driver, buffer, 512), 5));
            fakeUsed(driver, q, 0, 512);
            assertEquals(5, q.poll());
            assertEquals(512, q.usedLength());
            assertNull(q.brokenReason());
            assertEquals(QUEUE_SIZE, q.freeDescriptors());
        }
    }

    /** Writes the first used entry as a device would. */
    private static void fakeUsed(VirtioDriver driver, DriverQueue q, int id, int length) {
        MemorySegment m = driver.memory().segment();
        long area = q.usedAreaOffset();
        if (q.packed()) {
            m.set(Le.U16, area + PackedRing.DESC_ID, (short) id);
            m.set(Le.U32, area + PackedRing.DESC_LEN, length);
            m.set(Le.U16, area + PackedRing.DESC_FLAGS, (short) (PackedRing.DESC_F_AVAIL | PackedRing.DESC_F_USED));
        } else {
            m.set(Le.U32, area + SplitRing.USED_RING + SplitRing.USED_ELEM_ID, id);
            m.set(Le.U32, area + SplitRing.USED_RING + SplitRing.USED_ELEM_LEN, length);
            m.set(Le.U16, area + SplitRing.USED_IDX, (short) 1);
        }
    }

    /**
     * Under event index the device says which avail index it wants to hear about; a device waiting on
     * buffer 0 (holding it) does not want a doorbell for buffer 1. Without event index every kick rings.
     */
    @Test
    void eventIndexSuppressesKicksTheDeviceDidNotAskFor() throws Exception {
        for (boolean eventIndex : new boolean[] {true, false}) {
            try (HoldingDevice device = new HoldingDevice(dma, 0, false);
                    VirtioDriver driver = VirtioDriver.open(device, 0, DriverOptions.defaults()
                            .withRingLayout(RingLayout.SPLIT).withEventIndex(eventIndex))) {
                long buffer = driver.reserve(1024, 64);
                driver.start(1);
                DriverQueue q = driver.queue(0);
                assertTrue(q.add(oneWritable(driver, buffer, 512), 1));
                assertTrue(q.kick(), "the first buffer always rings");
                assertTrue(q.add(oneWritable(driver, buffer + 512, 512), 2));
                assertEquals(!eventIndex, q.kick());
                assertEquals(eventIndex ? 1 : 2, q.kicks());
                assertEquals(eventIndex ? 1 : 0, q.suppressedKicks());
                assertFalse(q.kick(), "nothing new: no doorbell");
                assertEquals(eventIndex ? 1 : 0, q.suppressedKicks(), "and nothing counted as suppressed");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = InterruptMode.class, names = {"EVENTFD", "POLL"})
    void waitingOnADeviceThatNeedsAResetFails(InterruptMode mode) throws Exception {
        try (HoldingDevice device = new HoldingDevice(dma, 0, false);
                VirtioDriver driver = VirtioDriver.open(device, 0, DriverOptions.defaults().withInterruptMode(mode))) {
            long buffer = driver.reserve(512, 64);
            driver.start(2);
            DriverQueue q = driver.queue(1);
            assertTrue(q.add(oneWritable(driver, buffer, 512), 1));
            q.kick();
            assertFalse(q.await(20, TimeUnit.MILLISECONDS), "the holding device answers nothing");
            device.needsReset("test: the device gives up");
            VirtioDriverException e = assertThrows(VirtioDriverException.class, () -> q.await(10, TimeUnit.SECONDS));
            assertTrue(e.getMessage().contains("NEEDS_RESET"), e.getMessage());
        }
    }

    /**
     * Callback mode keeps interrupts armed, with and without event index: a completion the driver has not
     * collected is always called back. The test collects only after the call back, as a callback-mode
     * user does: were the driver's re-arm to race a completion (the lost wakeup), nothing would call back
     * and nothing would poll. (A driver that polls on its own may collect a completion before the device
     * looks at the event index; the device then rightly skips that interrupt, so "a call back per
     * completion" holds only for completions the driver waits for this way.)
     */
    @ParameterizedTest
    @EnumSource(value = DriverSetup.class, names = {"SPLIT_CALLBACK", "PACKED_CALLBACK_NO_EVENT_IDX"})
    void callbackModeIsCalledBackForEveryCompletion(DriverSetup setup) throws Exception {
        for (boolean eventIndex : new boolean[] {true, false}) {
            AtomicInteger callbacks = new AtomicInteger();
            DriverOptions options = setup.options(64).withEventIndex(eventIndex)
                    .withInterruptCallback(q -> callbacks.incrementAndGet());
            try (RamDiskDevice device = new RamDiskDevice(dma, 1 << 20, 1, 64, "x");
                    VirtioBlockDisk disk = VirtioBlockDisk.open(device, options, 4096)) {
                assertEquals(eventIndex, disk.driver().hasFeature(VirtioFeature.RING_EVENT_IDX));
                BlockQueue queue = disk.queue(0);
                int requests = 200;
                MemorySegment block = MemorySegment.ofArray(new byte[4096]);
                int before = callbacks.get();
                for (int i = 0; i < requests; i++) {
                    assertTrue(queue.submitRead(i % 64, block, i));
                    queue.kick();
                    // Nothing polls the ring until the device has called back.
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                    while (callbacks.get() < before + i + 1) {
                        assertTrue(System.nanoTime() < deadline, "no call back for request " + i + " (event index "
                                + eventIndex + ")");
                        Thread.onSpinWait();
                    }
                    long expected = i;
                    assertEquals(1, queue.complete((cookie, status) -> {
                        assertEquals(expected, cookie);
                        assertEquals(BlkSpec.S_OK, status);
                    }), "the completion called back for is there to collect");
                }
                assertEquals(before + requests, callbacks.get(), "one call back per completion");
            }
        }
    }

    @Test
    void closeResetsTheDeviceUnmapsTheMemoryAndClosesTheFds() throws Exception {
        try (RamDiskDevice device = new RamDiskDevice(dma, 1 << 20, 2, 64, "x")) {
            long fds = openFds();
            long maps = memfdMappings();
            VirtioBlockDisk disk = VirtioBlockDisk.open(device);
            assertEquals(1, dma.size(), "the driver's memory is mapped into the device's DMA table");
            assertTrue(openFds() > fds);
            disk.write(0, MemorySegment.ofArray(new byte[4096]));
            disk.close();
            assertEquals(DeviceStatus.RESET, device.status());
            assertEquals(0, dma.size());
            assertEquals(fds, openFds(), "eventfds and the memfd are closed");
            assertEquals(maps, memfdMappings(), "the driver memory is unmapped");
            disk.close();
            // The device can be driven again from scratch.
            try (VirtioBlockDisk again = VirtioBlockDisk.open(device)) {
                again.read(0, MemorySegment.ofArray(new byte[4096]));
            }
        }
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    private static long memfdMappings() throws IOException {
        try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
            return maps.filter(line -> line.contains("/memfd:")).count();
        }
    }
}

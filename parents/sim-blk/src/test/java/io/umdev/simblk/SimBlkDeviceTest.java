package io.umdev.simblk;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.virtio.driver.BlockQueue;
import io.umdev.virtio.driver.BufferChain;
import io.umdev.virtio.driver.DriverOptions;
import io.umdev.virtio.driver.RingLayout;
import io.umdev.virtio.driver.VirtioBlockDisk;
import io.umdev.virtio.driver.VirtioBlockException;
import io.umdev.virtio.driver.VirtioDriverException;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.transport.QueueStatistics;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The sim-blk device driven through the in-process virtio driver over real rings. */
class SimBlkDeviceTest {
    private static final int SECTOR = BlkSpec.SECTOR_SIZE;
    private static final long CAPACITY = 4L << 20;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Every virtio-blk feature a driver might take. */
    private static final long ALL_BLK = VirtioFeature.bits(BlkSpec.F_SIZE_MAX, BlkSpec.F_SEG_MAX, BlkSpec.F_BLK_SIZE,
            BlkSpec.F_RO, BlkSpec.F_FLUSH, BlkSpec.F_MQ, BlkSpec.F_DISCARD, BlkSpec.F_WRITE_ZEROES, BlkSpec.F_TOPOLOGY);

    @TempDir
    Path dir;

    private final Disks disks = new Disks();
    private final Arena arena = Arena.ofShared();

    @AfterEach
    void tearDown() {
        disks.close();
        arena.close();
    }

    private SimBlkDevice device(String store, String... more) throws Exception {
        String[] base = store.equals("file")
                ? new String[] {"capacity", Long.toString(CAPACITY), "backing_file", dir.resolve("disk.img").toString()}
                : new String[] {"capacity", Long.toString(CAPACITY)};
        String[] all = Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return disks.create(all);
    }

    private static DriverOptions options(String ring) {
        return DriverOptions.defaults().withRingLayout(RingLayout.valueOf(ring));
    }

    private MemorySegment random(Random random, int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return arena.allocate(length).copyFrom(MemorySegment.ofArray(bytes));
    }

    private byte[] readAll(VirtioBlockDisk disk) throws VirtioDriverException {
        MemorySegment all = arena.allocate(disk.capacity() * SECTOR);
        disk.read(0, all);
        return all.toArray(JAVA_BYTE);
    }

    @ParameterizedTest(name = "{0} store, {1} rings")
    @CsvSource({"ram, SPLIT", "ram, PACKED", "file, SPLIT", "file, PACKED"})
    void randomWritesReadBackAndMatchTheBackingStore(String store, String ring) throws Exception {
        SimBlkDevice device = device(store);
        byte[] model = new byte[(int) CAPACITY];
        Random random = new Random(ring.hashCode() * 31L + store.hashCode());
        try (VirtioBlockDisk disk = VirtioBlockDisk.open(device, options(ring), VirtioBlockDisk.DEFAULT_MAX_TRANSFER)) {
            assertEquals(CAPACITY / SECTOR, disk.capacity());
            assertEquals(SECTOR, disk.blockSize());
            for (int i = 0; i < 300; i++) {
                int sectors = 1 + random.nextInt(i % 10 == 0 ? 512 : 16);
                long sector = random.nextLong(CAPACITY / SECTOR - sectors + 1);
                MemorySegment data = random(random, sectors * SECTOR);
                disk.write(sector, data);
                MemorySegment.copy(data, JAVA_BYTE, 0, model, (int) (sector * SECTOR), sectors * SECTOR);
                if (i % 50 == 0) {
                    MemorySegment back = arena.allocate(data.byteSize());
                    disk.read(sector, back);
                    assertEquals(-1, data.mismatch(back), "read right after write " + i);
                }
            }
            assertArrayEquals(model, readAll(disk));
            if (store.equals("file")) {
                assertArrayEquals(model, Files.readAllBytes(dir.resolve("disk.img")), "the file itself");
            }
            BlkStatistics stats = device.blkStatistics();
            assertEquals(0, stats.ioErrors());
            assertTrue(stats.writes() >= 300);
            assertTrue(stats.writtenBytes() > 0 && stats.readBytes() >= CAPACITY);
        }
    }

    @Test
    void flushPutsWritesInTheFileWithFdatasync() throws Exception {
        SimBlkDevice device = device("file");
        Path file = dir.resolve("disk.img");
        try (VirtioBlockDisk disk = VirtioBlockDisk.open(device)) {
            MemorySegment data = random(new Random(5), 8 * SECTOR);
            disk.write(100, data);
            assertEquals(0, device.store().syncs(), "a write alone is not synced");
            disk.flush();
            assertEquals(1, device.store().syncs());
            assertEquals(1, device.blkStatistics().flushes());
            assertEquals(1L, device.statistics().get("syncs"));

            ByteBuffer direct = ByteBuffer.allocate(8 * SECTOR);
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                channel.read(direct, 100L * SECTOR);
            }
            assertArrayEquals(data.toArray(JAVA_BYTE), direct.array());
        }
    }

    @Test
    void withoutNegotiatedFlushEveryWriteIsSyncedBeforeItsAnswer() throws Exception {
        SimBlkDevice device = device("file");
        try (RawRequests raw = RawRequests.open(device, ALL_BLK & ~VirtioFeature.bit(BlkSpec.F_FLUSH))) {
            assertFalse(raw.driver().hasFeature(BlkSpec.F_FLUSH));
            MemorySegment m = raw.memory();
            header(m, 0, BlkSpec.T_OUT, 3);
            m.asSlice(512, SECTOR).fill((byte) 0x77);
            m.set(JAVA_BYTE, 4096, (byte) 0xff);
            BufferChain chain = new BufferChain(3).readable(raw.iova(0), BlkSpec.REQ_HDR_SIZE)
                    .readable(raw.iova(512), SECTOR).writable(raw.iova(4096), 1);
            assertEquals(1, raw.submit(chain));
            assertEquals(BlkSpec.S_OK, m.get(JAVA_BYTE, 4096));
            assertEquals(1, device.store().syncs(), "write-through: synced with the write");
        }
        byte[] file = Files.readAllBytes(dir.resolve("disk.img"));
        byte[] expected = new byte[SECTOR];
        Arrays.fill(expected, (byte) 0x77);
        assertArrayEquals(expected, Arrays.copyOfRange(file, 3 * SECTOR, 4 * SECTOR));
    }

    @ParameterizedTest(name = "{0} store")
    @CsvSource({"ram", "file"})
    void discardAndWriteZeroesReadBackZeros(String store) throws Exception {
        SimBlkDevice device = device(store);
        try (VirtioBlockDisk disk = VirtioBlockDisk.open(device)) {
            MemorySegment ones = arena.allocate(256 * SECTOR).fill((byte) 0xA5);
            disk.write(0, ones);
            disk.discard(8, 16);
            disk.writeZeroes(40, 3, false);
            disk.writeZeroes(100, 50, true);

            byte[] expected = new byte[256 * SECTOR];
            Arrays.fill(expected, (byte) 0xA5);
            Arrays.fill(expected, 8 * SECTOR, 24 * SECTOR, (byte) 0);
            Arrays.fill(expected, 40 * SECTOR, 43 * SECTOR, (byte) 0);
            Arrays.fill(expected, 100 * SECTOR, 150 * SECTOR, (byte) 0);
            MemorySegment back = arena.allocate(256 * SECTOR);
            disk.read(0, back);
            assertArrayEquals(expected, back.toArray(JAVA_BYTE));
            assertEquals(1, device.blkStatistics().discards());
            assertEquals(2, device.blkStatistics().writeZeroes());
        }
    }

    @Test
    void requestsPastTheEndAnswerIoErrorAndTheDiskCarriesOn() throws Exception {
        SimBlkDevice device = device("ram");
        try (VirtioBlockDisk disk = VirtioBlockDisk.open(device)) {
            long last = disk.capacity() - 1;
            VirtioBlockException e = assertThrows(VirtioBlockException.class,
                    () -> disk.read(last, arena.allocate(2 * SECTOR)));
            assertEquals(BlkSpec.S_IOERR, e.status());
            assertEquals(BlkSpec.S_IOERR, assertThrows(VirtioBlockException.class,
                    () -> disk.write(disk.capacity(), arena.allocate(SECTOR))).status());
            assertEquals(BlkSpec.S_IOERR, assertThrows(VirtioBlockException.class,
                    () -> disk.discard(last, 2)).status());
            assertEquals(BlkSpec.S_IOERR, assertThrows(VirtioBlockException.class,
                    () -> disk.writeZeroes(-1L, 1, false)).status());

            disk.read(last, arena.allocate(SECTOR));
            assertEquals(4, device.blkStatistics().ioErrors());
            QueueStatistics q0 = device.queueStatistics(0);
            assertEquals(4, q0.errors());
            assertEquals(0, device.status() & DeviceStatus.NEEDS_RESET);
        }
    }

    @Test
    void transfersOfPartSectorsOrBeyondTheLimitsAnswerIoError() throws Exception {
        SimBlkDevice device = disks.create("capacity", "1G");
        try (RawRequests raw = RawRequests.open(device, ALL_BLK)) {
            MemorySegment m = raw.memory();
            long status = 1 << 20;
            header(m, 0, BlkSpec.T_IN, 0);
            BufferChain partial = new BufferChain(3).readable(raw.iova(0), BlkSpec.REQ_HDR_SIZE)
                    .writable(raw.iova(4096), 100).writable(raw.iova(status), 1);
            raw.submit(partial);
            assertEquals(BlkSpec.S_IOERR, m.get(JAVA_BYTE, status));

            // seg_max MiB + 512 of data, every descriptor aliasing the same MiB: one sector past seg_max x size_max.
            int segments = SimBlkDevice.SEG_MAX;
            BufferChain huge = new BufferChain(segments + 2).readable(raw.iova(0), BlkSpec.REQ_HDR_SIZE);
            for (int i = 0; i < segments; i++) {
                huge.writable(raw.iova(0), SimBlkDevice.SIZE_MAX);
            }
            huge.writable(raw.iova(status), SECTOR + 1);
            raw.submit(huge);
            assertEquals(BlkSpec.S_IOERR, m.get(JAVA_BYTE, status + SECTOR));
            assertEquals(2, device.blkStatistics().ioErrors());
            assertEquals(0, device.blkStatistics().reads());
            assertFalse(DeviceStatus.has(device.status(), DeviceStatus.NEEDS_RESET));
        }
    }

    @Test
    void readOnlyDiskOffersRoAndAnswersWritesWithIoError() throws Exception {
        Path file = dir.resolve("ro.img");
        byte[] contents = new byte[64 * SECTOR];
        new Random(3).nextBytes(contents);
        Files.write(file, contents);
        SimBlkDevice device = disks.create("backing_file", file.toString(), "read_only", "true");
        assertTrue(VirtioFeature.has(device.deviceFeatures(), BlkSpec.F_RO));
        assertFalse(VirtioFeature.has(device.deviceFeatures(), BlkSpec.F_DISCARD));
        try (RawRequests raw = RawRequests.open(device, ALL_BLK)) {
            assertTrue(raw.driver().hasFeature(BlkSpec.F_RO));
            MemorySegment m = raw.memory();
            header(m, 0, BlkSpec.T_OUT, 0);
            m.asSlice(512, SECTOR).fill((byte) 0x11);
            BufferChain chain = new BufferChain(3).readable(raw.iova(0), BlkSpec.REQ_HDR_SIZE)
                    .readable(raw.iova(512), SECTOR).writable(raw.iova(4096), 1);
            raw.submit(chain);
            assertEquals(BlkSpec.S_IOERR, m.get(JAVA_BYTE, 4096));

            header(m, 0, BlkSpec.T_IN, 0);
            BufferChain read = new BufferChain(3).readable(raw.iova(0), BlkSpec.REQ_HDR_SIZE)
                    .writable(raw.iova(8192), SECTOR).writable(raw.iova(4096), 1);
            assertEquals(SECTOR + 1, raw.submit(read));
            assertEquals(BlkSpec.S_OK, m.get(JAVA_BYTE, 4096));
            assertArrayEquals(Arrays.copyOf(contents, SECTOR), m.asSlice(8192, SECTOR).toArray(JAVA_BYTE));
        }
        assertArrayEquals(contents, Files.readAllBytes(file), "the read-only file is untouched");
        assertEquals(1, device.blkStatistics().ioErrors());
    }

    @Test
    void getIdAnswersTheSerial() throws Exception {
        SimBlkDevice device = disks.create("serial", "disk-0042");
        try (VirtioBlockDisk disk = VirtioBlockDisk.open(device)) {
            assertEquals("disk-0042", disk.getId());
        }
    }

    @Test
    void configSpaceDescribesTheDisk() throws Exception {
        SimBlkDevice device = disks.create("capacity", "1G", "num_queues", "3");
        MemorySegment config = arena.allocate(device.configSize());
        device.readConfig(0, config);
        assertEquals((1L << 30) / SECTOR, config.get(LE64, BlkSpec.CONFIG_CAPACITY));
        assertEquals(SECTOR, config.get(LE32, BlkSpec.CONFIG_BLK_SIZE));
        assertEquals(3, Short.toUnsignedInt(config.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
                BlkSpec.CONFIG_NUM_QUEUES)));
        assertEquals(SimBlkDevice.SEG_MAX, config.get(LE32, BlkSpec.CONFIG_SEG_MAX));
        assertEquals(SimBlkDevice.MAX_DWZ_SECTORS, config.get(LE32, BlkSpec.CONFIG_MAX_DISCARD_SECTORS));
        assertEquals(1, config.get(JAVA_BYTE, BlkSpec.CONFIG_WRITE_ZEROES_MAY_UNMAP));
        assertEquals(3, device.queueCount());
        assertTrue(VirtioFeature.has(device.deviceFeatures(), BlkSpec.F_MQ));
        assertTrue(VirtioFeature.has(device.deviceFeatures(), BlkSpec.F_FLUSH));
    }

    @Test
    void multiqueueServesEveryQueueAtOnce() throws Exception {
        int queues = 4;
        SimBlkDevice device = device("file", "num_queues", Integer.toString(queues));
        try (VirtioBlockDisk disk = VirtioBlockDisk.open(device);
                ExecutorService pool = Executors.newFixedThreadPool(queues)) {
            assertEquals(queues, disk.queueCount());
            long region = disk.capacity() / queues;
            Future<?>[] done = new Future<?>[queues];
            for (int q = 0; q < queues; q++) {
                int queue = q;
                done[q] = pool.submit(() -> {
                    writeAndVerifyRegion(disk.queue(queue), queue * region, region, queue);
                    return null;
                });
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
            for (int q = 0; q < queues; q++) {
                assertTrue(device.blkStatistics(q).writes() > 0, "queue " + q + " wrote");
                assertTrue(device.queueStatistics(q).requests() > 0, "queue " + q + " served");
            }
            // Each region holds its own queue's pattern.
            for (int q = 0; q < queues; q++) {
                MemorySegment first = arena.allocate(SECTOR);
                disk.read(q * region, first);
                assertEquals((byte) (q + 1), first.get(JAVA_BYTE, 0));
            }
        }
    }

    /** Writes {@code sectors} sectors of pattern {@code tag + 1} 16 at a time, keeping 8 in flight, then reads them back. */
    private static void writeAndVerifyRegion(BlockQueue queue, long start, long sectors, int tag) throws Exception {
        int chunk = 16;
        AtomicInteger failures = new AtomicInteger();
        try (Arena local = Arena.ofConfined()) {
            MemorySegment pattern = local.allocate((long) chunk * SECTOR).fill((byte) (tag + 1));
            long next = start;
            long end = start + sectors - sectors % chunk;
            int inFlight = 0;
            while (next < end || inFlight > 0) {
                while (next < end && inFlight < 8 && queue.canSubmit() && queue.submitWrite(next, pattern, next)) {
                    next += chunk;
                    inFlight++;
                }
                queue.kick();
                if (inFlight > 0) {
                    queue.await(10, TimeUnit.SECONDS);
                }
                inFlight -= queue.complete((cookie, status) -> {
                    if (status != BlkSpec.S_OK) {
                        failures.incrementAndGet();
                    }
                });
            }
            MemorySegment back = local.allocate((long) chunk * SECTOR);
            for (long s = start; s < end; s += chunk) {
                assertTrue(queue.submitRead(s, back, s));
                queue.kick();
                while (queue.complete((cookie, status) -> {
                    if (status != BlkSpec.S_OK) {
                        failures.incrementAndGet();
                    }
                }) == 0) {
                    queue.await(10, TimeUnit.SECONDS);
                }
                assertEquals(-1, back.mismatch(pattern), "queue region at sector " + s);
            }
        }
        assertEquals(0, failures.get());
    }

    @Test
    void unknownAndUnnegotiatedTypesAnswerUnsupported() throws Exception {
        SimBlkDevice device = device("ram");
        try (RawRequests raw = RawRequests.open(device, ALL_BLK & ~VirtioFeature.bit(BlkSpec.F_DISCARD))) {
            MemorySegment m = raw.memory();
            header(m, 0, 0x7777, 0);
            BufferChain unknown = new BufferChain(2).readable(raw.iova(0), BlkSpec.REQ_HDR_SIZE)
                    .writable(raw.iova(4096), 1);
            assertEquals(1, raw.submit(unknown));
            assertEquals(BlkSpec.S_UNSUPP, m.get(JAVA_BYTE, 4096));

            header(m, 0, BlkSpec.T_DISCARD, 0);
            m.set(LE64, 16, 0);
            m.set(LE32, 24, 8);
            m.set(LE32, 28, 0);
            BufferChain discard = new BufferChain(2).readable(raw.iova(0), BlkSpec.REQ_HDR_SIZE + BlkSpec.SEG_SIZE)
                    .writable(raw.iova(4096), 1);
            raw.submit(discard);
            assertEquals(BlkSpec.S_UNSUPP, m.get(JAVA_BYTE, 4096), "discard was not negotiated");

            header(m, 0, BlkSpec.T_WRITE_ZEROES, 0);
            m.set(LE32, 28, 0x2);
            raw.submit(discard);
            assertEquals(BlkSpec.S_UNSUPP, m.get(JAVA_BYTE, 4096), "an unknown write-zeroes flag");
            assertEquals(3, device.blkStatistics().unsupported());
            assertEquals(0, device.status() & DeviceStatus.NEEDS_RESET);
        }
    }

    @Test
    void headerSplitAcrossDescriptorsIsStillARequest() throws Exception {
        SimBlkDevice device = device("ram");
        try (RawRequests raw = RawRequests.open(device, ALL_BLK)) {
            MemorySegment m = raw.memory();
            header(m, 0, BlkSpec.T_OUT, 7);
            m.asSlice(1024, 2 * SECTOR).fill((byte) 0x3c);
            // Header in two pieces, data split in the middle of a sector, status alone.
            BufferChain chain = new BufferChain(6).readable(raw.iova(0), 5).readable(raw.iova(5), 11)
                    .readable(raw.iova(1024), 700).readable(raw.iova(1024 + 700), 2 * SECTOR - 700)
                    .writable(raw.iova(4096), 1);
            raw.submit(chain);
            assertEquals(BlkSpec.S_OK, m.get(JAVA_BYTE, 4096));

            header(m, 0, BlkSpec.T_IN, 7);
            BufferChain read = new BufferChain(4).readable(raw.iova(0), BlkSpec.REQ_HDR_SIZE)
                    .writable(raw.iova(8192), 300).writable(raw.iova(8192 + 300), 2 * SECTOR - 300 + 1);
            assertEquals(2 * SECTOR + 1, raw.submit(read));
            assertEquals(BlkSpec.S_OK, m.get(JAVA_BYTE, 8192 + 2 * SECTOR));
            byte[] expected = new byte[2 * SECTOR];
            Arrays.fill(expected, (byte) 0x3c);
            assertArrayEquals(expected, m.asSlice(8192, 2 * SECTOR).toArray(JAVA_BYTE));
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"short header", "no status byte", "read with readable data", "write with writable data"})
    void malformedRequestsMarkTheDeviceNeedsReset(String shape) throws Exception {
        SimBlkDevice device = device("ram");
        try (RawRequests raw = RawRequests.open(device, ALL_BLK)) {
            MemorySegment m = raw.memory();
            BufferChain chain = new BufferChain(4);
            switch (shape) {
                case "short header" -> {
                    header(m, 0, BlkSpec.T_IN, 0);
                    chain.readable(raw.iova(0), 8).writable(raw.iova(4096), SECTOR + 1);
                }
                case "no status byte" -> {
                    header(m, 0, BlkSpec.T_OUT, 0);
                    chain.readable(raw.iova(0), BlkSpec.REQ_HDR_SIZE).readable(raw.iova(512), SECTOR + 1);
                }
                case "read with readable data" -> {
                    header(m, 0, BlkSpec.T_IN, 0);
                    chain.readable(raw.iova(0), BlkSpec.REQ_HDR_SIZE).readable(raw.iova(512), SECTOR)
                            .writable(raw.iova(4096), 1);
                }
                case "write with writable data" -> {
                    header(m, 0, BlkSpec.T_OUT, 0);
                    chain.readable(raw.iova(0), BlkSpec.REQ_HDR_SIZE).writable(raw.iova(512), SECTOR)
                            .writable(raw.iova(4096), 1);
                }
                default -> throw new IllegalArgumentException(shape);
            }
            VirtioDriverException e = assertThrows(VirtioDriverException.class, () -> raw.submit(chain));
            assertTrue(e.getMessage().contains("reset"), e.getMessage());
            assertTrue(DeviceStatus.has(device.status(), DeviceStatus.NEEDS_RESET));
            String reason = device.needsResetReason();
            assertNotNull(reason);
            assertTrue(reason.contains("not a virtio-blk request"), reason);
        }
        // A reset brings it back.
        try (VirtioBlockDisk disk = VirtioBlockDisk.open(device)) {
            disk.write(0, arena.allocate(SECTOR).fill((byte) 1));
            MemorySegment back = arena.allocate(SECTOR);
            disk.read(0, back);
            assertEquals(1, back.get(JAVA_BYTE, 0));
        }
    }

    @Test
    void oneBrokenInstanceLeavesAnotherRunning() throws Exception {
        SimBlkDevice broken = device("ram");
        SimBlkDevice healthy = disks.create("capacity", "1M");
        try (RawRequests raw = RawRequests.open(broken, ALL_BLK);
                VirtioBlockDisk disk = VirtioBlockDisk.open(healthy)) {
            BufferChain bad = new BufferChain(1).readable(raw.iova(0), 4);
            assertThrows(VirtioDriverException.class, () -> raw.submit(bad));
            assertTrue(DeviceStatus.has(broken.status(), DeviceStatus.NEEDS_RESET));
            disk.write(1, arena.allocate(SECTOR).fill((byte) 9));
            MemorySegment back = arena.allocate(SECTOR);
            disk.read(1, back);
            assertEquals(9, back.get(JAVA_BYTE, 0));
            assertFalse(DeviceStatus.has(healthy.status(), DeviceStatus.NEEDS_RESET));
        }
    }

    private static void header(MemorySegment m, long at, int type, long sector) {
        m.set(LE32, at + BlkSpec.REQ_TYPE, type);
        m.set(LE32, at + BlkSpec.REQ_IOPRIO, 0);
        m.set(LE64, at + BlkSpec.REQ_SECTOR, sector);
    }
}

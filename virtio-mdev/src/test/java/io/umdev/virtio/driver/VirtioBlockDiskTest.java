package io.umdev.virtio.driver;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.vfiouser.dma.DmaTable;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The block driver against a RAM disk on the software device core: real rings, real memfd memory, a real DMA table. */
class VirtioBlockDiskTest {
    private static final int DISK_BYTES = 8 << 20;
    private static final int QUEUE_SIZE = 64;
    private static final String SERIAL = "umdev-ramdisk-0001";

    private final DmaTable dma = new DmaTable(16);
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        dma.close();
    }

    private RamDiskDevice device(int queues, String id) {
        RamDiskDevice d = new RamDiskDevice(dma, DISK_BYTES, queues, QUEUE_SIZE, id);
        toClose.add(d);
        return d;
    }

    private VirtioBlockDisk open(RamDiskDevice device, DriverSetup setup, int maxTransfer) throws VirtioDriverException {
        VirtioBlockDisk disk = VirtioBlockDisk.open(device, setup.options(QUEUE_SIZE), maxTransfer);
        toClose.add(disk);
        return disk;
    }

    private static MemorySegment pattern(int bytes, long seed) {
        byte[] data = new byte[bytes];
        new Random(seed).nextBytes(data);
        return MemorySegment.ofArray(data);
    }

    private static byte[] bytes(MemorySegment s) {
        return s.toArray(JAVA_BYTE);
    }

    @ParameterizedTest
    @EnumSource(DriverSetup.class)
    void readsBackWhatItWroteAcrossSeveralRequests(DriverSetup setup) throws Exception {
        RamDiskDevice device = device(1, SERIAL);
        VirtioBlockDisk disk = open(device, setup, 16 * 1024);
        // 200 KiB at sector 8: thirteen requests of at most 16 KiB, several in flight at once.
        MemorySegment data = pattern(200 * 1024, 1);
        disk.write(8, data);
        MemorySegment back = MemorySegment.ofArray(new byte[(int) data.byteSize()]);
        disk.read(8, back);
        assertArrayEquals(bytes(data), bytes(back));
        assertArrayEquals(bytes(data), bytes(device.contents().asSlice(8 * BlkSpec.SECTOR_SIZE, data.byteSize())),
                "the device's disk holds the data, at the sector written");
        assertEquals(setup.layout == RingLayout.PACKED, disk.driver().packed());
        assertEquals(setup.indirect, disk.driver().hasFeature(VirtioFeature.RING_INDIRECT_DESC));
    }

    @Test
    void reportsCapacityBlockSizeAndQueuesFromConfigSpace() throws Exception {
        RamDiskDevice device = device(3, SERIAL);
        VirtioBlockDisk disk = open(device, DriverSetup.SPLIT_EVENTFD, VirtioBlockDisk.DEFAULT_MAX_TRANSFER);
        assertEquals(DISK_BYTES / BlkSpec.SECTOR_SIZE, disk.capacity());
        assertEquals(RamDiskDevice.BLOCK_SIZE, disk.blockSize());
        assertEquals(3, disk.queueCount());
        assertFalse(disk.readOnly());
        assertEquals(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK,
                device.status());
    }

    @ParameterizedTest
    @EnumSource(value = DriverSetup.class, names = {"SPLIT_EVENTFD", "PACKED_POLL_DIRECT"})
    void flushDiscardWriteZeroesAndGetIdReachTheDevice(DriverSetup setup) throws Exception {
        RamDiskDevice device = device(1, SERIAL);
        VirtioBlockDisk disk = open(device, setup, VirtioBlockDisk.DEFAULT_MAX_TRANSFER);
        MemorySegment data = pattern(64 * BlkSpec.SECTOR_SIZE, 2);
        disk.write(0, data);
        disk.flush();
        assertEquals(1, device.flushes());

        disk.discard(8, 8);
        disk.writeZeroes(32, 4, true);
        MemorySegment back = MemorySegment.ofArray(new byte[(int) data.byteSize()]);
        disk.read(0, back);
        byte[] expected = bytes(data);
        Arrays.fill(expected, 8 * BlkSpec.SECTOR_SIZE, 16 * BlkSpec.SECTOR_SIZE, (byte) 0);
        Arrays.fill(expected, 32 * BlkSpec.SECTOR_SIZE, 36 * BlkSpec.SECTOR_SIZE, (byte) 0);
        assertArrayEquals(expected, bytes(back));

        assertEquals(SERIAL, disk.getId());
    }

    /** With indirect descriptors a three-segment request takes one ring slot; without, three. */
    @ParameterizedTest
    @EnumSource(DriverSetup.class)
    void aRequestTakesOneDescriptorWithIndirectTablesAndThreeWithout(DriverSetup setup) throws Exception {
        RamDiskDevice device = device(1, SERIAL);
        VirtioBlockDisk disk = open(device, setup, 4096);
        BlockQueue q = disk.queue(0);
        DriverQueue ring = q.virtqueue();
        int free = ring.freeDescriptors();
        MemorySegment buffer = MemorySegment.ofArray(new byte[4096]);
        // Not kicked yet: the device has not looked, so nothing can have come back.
        assertTrue(q.submitRead(0, buffer, 1));
        assertEquals(free - (setup.indirect ? 1 : 3), ring.freeDescriptors());
        q.kick();
        assertTrue(q.await(20, TimeUnit.SECONDS));
        long[] cookie = {-1};
        assertEquals(1, q.complete((c, status) -> cookie[0] = c));
        assertEquals(1, cookie[0]);
        assertEquals(free, ring.freeDescriptors());
    }

    @Test
    void readPastTheEndRaisesAnExceptionSayingIoerr() throws Exception {
        RamDiskDevice device = device(1, SERIAL);
        VirtioBlockDisk disk = open(device, DriverSetup.PACKED_EVENTFD, VirtioBlockDisk.DEFAULT_MAX_TRANSFER);
        MemorySegment buffer = MemorySegment.ofArray(new byte[2 * BlkSpec.SECTOR_SIZE]);
        VirtioBlockException e = assertThrows(VirtioBlockException.class, () -> disk.read(disk.capacity() - 1, buffer));
        assertEquals(BlkSpec.S_IOERR, e.status());
        assertEquals(Errno.EIO, e.errno());
        assertTrue(e.getMessage().contains("IOERR"), e.getMessage());
        // The disk is still usable afterwards.
        disk.read(disk.capacity() - 2, buffer);
    }

    @Test
    void getIdOfADeviceWithoutOneRaisesAnExceptionSayingUnsupp() throws Exception {
        RamDiskDevice device = device(1, null);
        VirtioBlockDisk disk = open(device, DriverSetup.SPLIT_EVENTFD, VirtioBlockDisk.DEFAULT_MAX_TRANSFER);
        VirtioBlockException e = assertThrows(VirtioBlockException.class, disk::getId);
        assertEquals(BlkSpec.S_UNSUPP, e.status());
        assertEquals(Errno.EOPNOTSUPP, e.errno());
        assertTrue(e.getMessage().contains("UNSUPP"), e.getMessage());
    }

    @Test
    void refusesDiscardWhenTheDeviceDoesNotOfferIt() throws Exception {
        RamDiskDevice device = new RamDiskDevice(dma, DISK_BYTES, 1, QUEUE_SIZE, SERIAL,
                VirtioFeature.bit(BlkSpec.F_DISCARD));
        toClose.add(device);
        VirtioBlockDisk disk = open(device, DriverSetup.SPLIT_EVENTFD, VirtioBlockDisk.DEFAULT_MAX_TRANSFER);
        assertThrows(UnsupportedOperationException.class, () -> disk.discard(0, 1));
        assertEquals(0, device.requests(), "nothing was sent");
    }

    /** Many thousands of requests through the asynchronous API: each ring wraps around many times. */
    @ParameterizedTest
    @EnumSource(DriverSetup.class)
    void asyncRequestsWrapTheRingManyTimesAndKeepEveryByte(DriverSetup setup) throws Exception {
        RamDiskDevice device = device(1, SERIAL);
        VirtioBlockDisk disk = open(device, setup, 4096);
        BlockQueue q = disk.queue(0);
        int requests = 20_000;
        int blocks = DISK_BYTES / 4096;
        int sectorsPerBlock = 4096 / BlkSpec.SECTOR_SIZE;
        // Each block gets its number written into it, then every block is read back and checked.
        MemorySegment[] buffers = new MemorySegment[q.slots()];
        for (int i = 0; i < buffers.length; i++) {
            buffers[i] = MemorySegment.ofArray(new byte[4096]);
        }
        int[] failures = new int[1];
        int[] freeStack = new int[q.slots()];
        for (int i = 0; i < freeStack.length; i++) {
            freeStack[i] = i;
        }
        int[] freeCount = {freeStack.length};
        BlockCompletion onWrite = (cookie, status) -> {
            if (status != BlkSpec.S_OK) {
                failures[0]++;
            }
            freeStack[freeCount[0]++] = (int) cookie;
        };
        int submitted = 0;
        int completed = 0;
        while (completed < requests) {
            boolean any = false;
            while (submitted < requests && freeCount[0] > 0 && q.canSubmit()) {
                int buffer = freeStack[--freeCount[0]];
                int block = submitted % blocks;
                buffers[buffer].fill((byte) 0);
                buffers[buffer].set(JAVA_INT_UNALIGNED, 0, submitted);
                assertTrue(q.submitWrite((long) block * sectorsPerBlock, buffers[buffer], buffer));
                submitted++;
                any = true;
            }
            if (any) {
                q.kick();
            }
            int done = q.complete(onWrite);
            if (done == 0) {
                assertTrue(q.await(20, TimeUnit.SECONDS), "the device stopped answering");
            }
            completed += done;
        }
        assertEquals(0, failures[0]);
        assertEquals(0, q.inFlight());
        assertEquals(requests, q.virtqueue().added());
        assertEquals(requests, q.virtqueue().completed());
        assertTrue(requests > 100 * QUEUE_SIZE, "the ring wrapped many times");

        // The last write to each block is the one that shows, and each block reads back with it.
        MemorySegment block = MemorySegment.ofArray(new byte[4096]);
        for (int b = 0; b < blocks; b += 97) {
            disk.read((long) b * sectorsPerBlock, block);
            int expected = b + ((requests - 1 - b) / blocks) * blocks;
            assertEquals(expected, block.get(JAVA_INT_UNALIGNED, 0), "block " + b);
        }
    }

    /** One thread per queue, each with its own requests in flight. */
    @ParameterizedTest
    @EnumSource(value = DriverSetup.class, names = {"SPLIT_EVENTFD", "PACKED_EVENTFD", "PACKED_POLL_DIRECT"})
    void queuesWorkInParallelFromTheirOwnThreads(DriverSetup setup) throws Exception {
        int queues = 4;
        RamDiskDevice device = device(queues, SERIAL);
        VirtioBlockDisk disk = open(device, setup, 4096);
        Throwable[] errors = new Throwable[queues];
        Thread[] threads = new Thread[queues];
        int perQueue = 2000;
        for (int t = 0; t < queues; t++) {
            int queueIndex = t;
            threads[t] = Thread.ofPlatform().start(() -> {
                try {
                    runQueue(disk.queue(queueIndex), queueIndex, perQueue);
                } catch (Throwable e) {
                    errors[queueIndex] = e;
                }
            });
        }
        for (Thread t : threads) {
            t.join();
        }
        for (Throwable e : errors) {
            if (e != null) {
                throw new AssertionError(e);
            }
        }
        // Each queue wrote its own region: check a block of each.
        MemorySegment block = MemorySegment.ofArray(new byte[4096]);
        for (int t = 0; t < queues; t++) {
            disk.read(regionStart(t), block);
            assertEquals(t, Byte.toUnsignedInt(block.get(JAVA_BYTE, 0)));
        }
        for (int t = 0; t < queues; t++) {
            assertTrue(disk.queue(t).virtqueue().completed() >= perQueue, "queue " + t + " carried its own requests");
        }
    }

    private static long regionStart(int queue) {
        return (long) queue * (DISK_BYTES / 4) / BlkSpec.SECTOR_SIZE;
    }

    private static void runQueue(BlockQueue q, int queueIndex, int count) throws VirtioDriverException {
        MemorySegment data = MemorySegment.ofArray(new byte[4096]);
        data.fill((byte) queueIndex);
        int[] bad = new int[1];
        BlockCompletion c = (cookie, status) -> bad[0] += status == BlkSpec.S_OK ? 0 : 1;
        int submitted = 0;
        int completed = 0;
        long blocksInRegion = DISK_BYTES / 4 / 4096;
        while (completed < count) {
            boolean any = false;
            while (submitted < count && q.canSubmit()) {
                long sector = regionStart(queueIndex) + (submitted % blocksInRegion) * (4096 / BlkSpec.SECTOR_SIZE);
                if (!q.submitWrite(sector, data, submitted)) {
                    break;
                }
                submitted++;
                any = true;
            }
            if (any) {
                q.kick();
            }
            int done = q.complete(c);
            if (done == 0 && !q.await(20, TimeUnit.SECONDS)) {
                throw new AssertionError("queue " + queueIndex + " stopped answering");
            }
            completed += done;
        }
        if (bad[0] != 0) {
            throw new AssertionError(bad[0] + " requests failed on queue " + queueIndex);
        }
    }
}

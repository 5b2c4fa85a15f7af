package io.umdev.virtio.driver;

import static io.umdev.virtio.spec.BlkSpec.SECTOR_SIZE;

import io.umdev.linux.Errno;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A virtio-blk device driven in process: capacity, block size and queue count from its config space,
 * and requests over real rings. Two ways to use it:
 * <ul>
 * <li>blocking calls ({@link #read}, {@link #write}, {@link #flush}, {@link #discard},
 * {@link #writeZeroes}, {@link #getId}) on queue 0, safe from any thread (they take a lock), splitting
 * large transfers into several requests in flight;
 * <li>the asynchronous {@link BlockQueue} of each queue ({@link #queue(int)}), one thread per queue, no
 * lock and no allocation per request. Do not mix the two on queue 0.
 * </ul>
 * A status other than OK becomes a {@link VirtioBlockException} naming IOERR or UNSUPP.
 */
public final class VirtioBlockDisk implements AutoCloseable {
    /** Default bytes one request moves at most (each slot has a bounce buffer of this size). */
    public static final int DEFAULT_MAX_TRANSFER = 64 * 1024;
    /** Requests in flight per queue at most, whatever the ring could hold: bounds the memory. */
    public static final int DEFAULT_MAX_SLOTS = 128;
    private static final int BUFFER_ALIGNMENT = 4096;
    /** Segments of a read or write: header, data, status. */
    private static final int REQUEST_SEGMENTS = 3;

    /** Config bytes the disk reads: capacity up to num_queues. */
    private static final int CONFIG_NEEDED = BlkSpec.CONFIG_NUM_QUEUES + Short.BYTES;

    private static final long WANTED = VirtioFeature.bits(BlkSpec.F_SIZE_MAX, BlkSpec.F_SEG_MAX, BlkSpec.F_BLK_SIZE,
            BlkSpec.F_RO, BlkSpec.F_FLUSH, BlkSpec.F_MQ, BlkSpec.F_DISCARD, BlkSpec.F_WRITE_ZEROES,
            BlkSpec.F_TOPOLOGY);

    private final VirtioDriver driver;
    private final long capacity;
    private final int blockSize;
    private final int maxTransfer;
    private final BlockQueue[] queues;
    private final ReentrantLock syncLock = new ReentrantLock();
    private final SyncCompletion sync = new SyncCompletion();

    private VirtioBlockDisk(VirtioDriver driver, long capacity, int blockSize, int maxTransfer, BlockQueue[] queues) {
        this.driver = driver;
        this.capacity = capacity;
        this.blockSize = blockSize;
        this.maxTransfer = maxTransfer;
        this.queues = queues;
    }

    /** Opens a virtio-blk device with the default options, every queue it offers. */
    public static VirtioBlockDisk open(VirtioDevice device) throws VirtioDriverException {
        return open(device, DriverOptions.defaults(), DEFAULT_MAX_TRANSFER);
    }

    /** Opens a virtio-blk device with {@code options} and requests of up to {@link #DEFAULT_MAX_TRANSFER} bytes. */
    public static VirtioBlockDisk open(VirtioDevice device, DriverOptions options) throws VirtioDriverException {
        return open(device, options, DEFAULT_MAX_TRANSFER);
    }

    /**
     * Opens a virtio-blk device: negotiates, reads the config space, sets up every queue the device
     * offers with request slots of {@code maxTransfer} bytes (less if the device's size_max is smaller).
     */
    public static VirtioBlockDisk open(VirtioDevice device, DriverOptions options, int maxTransfer)
            throws VirtioDriverException {
        if (maxTransfer < SECTOR_SIZE || maxTransfer % SECTOR_SIZE != 0) {
            throw new IllegalArgumentException("maxTransfer is a positive multiple of " + SECTOR_SIZE + ": " + maxTransfer);
        }
        if (device.deviceId() != VirtioId.BLOCK) {
            throw new VirtioDriverException(Errno.ENODEV, "not a block device: virtio ID " + device.deviceId());
        }
        VirtioDriver driver = VirtioDriver.open(device, WANTED, options);
        try {
            MemorySegment config = driver.readConfig();
            if (config.byteSize() < CONFIG_NEEDED) {
                throw new VirtioDriverException(Errno.EIO, "the config space has " + config.byteSize()
                        + " bytes, fewer than the " + CONFIG_NEEDED + " up to num_queues");
            }
            long capacity = Le.u64(config, BlkSpec.CONFIG_CAPACITY);
            int blockSize = driver.hasFeature(BlkSpec.F_BLK_SIZE) ? (int) Le.u32(config, BlkSpec.CONFIG_BLK_SIZE)
                    : SECTOR_SIZE;
            int queueCount = driver.hasFeature(BlkSpec.F_MQ) ? Le.u16(config, BlkSpec.CONFIG_NUM_QUEUES) : 1;
            if (queueCount < 1 || queueCount > device.queueCount()) {
                throw new VirtioDriverException(Errno.EIO, "the device reports " + queueCount
                        + " request queues and has " + device.queueCount());
            }
            int transfer = maxTransfer;
            if (driver.hasFeature(BlkSpec.F_SIZE_MAX)) {
                long sizeMax = Le.u32(config, BlkSpec.CONFIG_SIZE_MAX);
                if (sizeMax >= SECTOR_SIZE && sizeMax < transfer) {
                    transfer = (int) (sizeMax - sizeMax % SECTOR_SIZE);
                }
            }
            // Slots and their memory are planned before start; the ring size decides how many fit.
            int perRequest = driver.hasFeature(VirtioFeature.RING_INDIRECT_DESC)
                    && options.maxSegments() >= REQUEST_SEGMENTS ? 1 : REQUEST_SEGMENTS;
            int[] slots = new int[queueCount];
            long[] headers = new long[queueCount];
            long[] data = new long[queueCount];
            for (int q = 0; q < queueCount; q++) {
                slots[q] = Math.max(1, Math.min(DEFAULT_MAX_SLOTS, driver.queueSize(q) / perRequest));
                headers[q] = driver.reserve((long) slots[q] * BlockQueue.SLOT_HEADER_STRIDE, DriverQueue.AREA_ALIGNMENT);
                data[q] = driver.reserve((long) slots[q] * transfer, BUFFER_ALIGNMENT);
            }
            driver.start(queueCount);
            BlockQueue[] queues = new BlockQueue[queueCount];
            VirtioBlockDisk disk = new VirtioBlockDisk(driver, capacity, blockSize, transfer, queues);
            for (int q = 0; q < queueCount; q++) {
                queues[q] = new BlockQueue(disk, driver.queue(q), driver.memory(), headers[q], data[q], transfer,
                        slots[q]);
            }
            return disk;
        } catch (VirtioDriverException | RuntimeException e) {
            driver.close();
            throw e;
        }
    }

    /** The driver underneath: features, status, raw queues. */
    public VirtioDriver driver() {
        return driver;
    }

    /** Size in 512-byte sectors. */
    public long capacity() {
        return capacity;
    }

    /** The device's preferred block size in bytes (512 unless it offers BLK_SIZE). */
    public int blockSize() {
        return blockSize;
    }

    /** True if the device is read-only (RO). */
    public boolean readOnly() {
        return driver.hasFeature(BlkSpec.F_RO);
    }

    /** Most bytes one request moves. */
    public int maxTransfer() {
        return maxTransfer;
    }

    public int queueCount() {
        return queues.length;
    }

    /** The asynchronous interface of request queue {@code q}. */
    public BlockQueue queue(int q) {
        return queues[q];
    }

    void checkFeature(int bit, String what) {
        if (!driver.hasFeature(bit)) {
            throw new UnsupportedOperationException("the device did not offer " + what + " (feature " + bit + ")");
        }
    }

    void checkWritable() {
        if (readOnly()) {
            throw new UnsupportedOperationException("the device is read-only");
        }
    }

    /** Reads whole sectors from {@code sector} into {@code dst}, any length (split into several requests). */
    public void read(long sector, MemorySegment dst) throws VirtioDriverException {
        transfer(true, sector, dst);
    }

    /** Writes {@code src} (whole sectors) at {@code sector}; returns when the device has answered. */
    public void write(long sector, MemorySegment src) throws VirtioDriverException {
        checkWritable();
        transfer(false, sector, src);
    }

    private void transfer(boolean read, long sector, MemorySegment buffer) throws VirtioDriverException {
        long total = buffer.byteSize();
        if (total % SECTOR_SIZE != 0) {
            throw new IllegalArgumentException("transfers are whole " + SECTOR_SIZE + "-byte sectors: " + total);
        }
        String what = (read ? "read of " : "write of ") + total / SECTOR_SIZE + " sectors at " + sector;
        syncLock.lock();
        try {
            BlockQueue q = queues[0];
            sync.reset();
            long submitted = 0;
            int outstanding = 0;
            while (submitted < total || outstanding > 0) {
                boolean added = false;
                while (submitted < total && q.canSubmit()) {
                    long chunk = Math.min(maxTransfer, total - submitted);
                    MemorySegment part = buffer.asSlice(submitted, chunk);
                    long at = sector + submitted / SECTOR_SIZE;
                    boolean ok = read ? q.submitRead(at, part, 0) : q.submitWrite(at, part, 0);
                    if (!ok) {
                        break;
                    }
                    submitted += chunk;
                    outstanding++;
                    added = true;
                }
                if (added) {
                    q.kick();
                }
                outstanding -= waitFor(q, what);
            }
            sync.throwIfFailed(what);
        } finally {
            syncLock.unlock();
        }
    }

    /** Makes every completed write durable. */
    public void flush() throws VirtioDriverException {
        single("flush", q -> q.submitFlush(0));
    }

    /** Discards {@code count} sectors from {@code sector}. */
    public void discard(long sector, long count) throws VirtioDriverException {
        single("discard of " + count + " sectors at " + sector, q -> q.submitDiscard(sector, count, 0));
    }

    /** Zeroes {@code count} sectors from {@code sector}; {@code unmap} lets the device deallocate them. */
    public void writeZeroes(long sector, long count, boolean unmap) throws VirtioDriverException {
        single("write zeroes of " + count + " sectors at " + sector,
                q -> q.submitWriteZeroes(sector, count, unmap, 0));
    }

    /** The device's ID string (serial number), up to 20 bytes. */
    public String getId() throws VirtioDriverException {
        MemorySegment id = MemorySegment.ofArray(new byte[BlkSpec.ID_BYTES]);
        single("get ID", q -> q.submitGetId(id, 0));
        byte[] bytes = id.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        int length = 0;
        while (length < bytes.length && bytes[length] != 0) {
            length++;
        }
        return new String(bytes, 0, length, StandardCharsets.US_ASCII);
    }

    private interface Submission {
        boolean submit(BlockQueue queue);
    }

    private void single(String what, Submission submission) throws VirtioDriverException {
        syncLock.lock();
        try {
            BlockQueue q = queues[0];
            sync.reset();
            int outstanding = 0;
            while (true) {
                if (q.canSubmit() && submission.submit(q)) {
                    q.kick();
                    break;
                }
                if (q.inFlight() == 0) {
                    throw new VirtioDriverException(Errno.EIO, what + ": queue 0 takes no request ("
                            + (q.virtqueue().isBroken() ? q.virtqueue().brokenReason() : "full") + ")");
                }
                // Stale requests of an abandoned call hold the ring: let them finish first.
                waitFor(q, what);
            }
            outstanding++;
            while (outstanding > 0) {
                outstanding -= waitFor(q, what);
            }
            sync.throwIfFailed(what);
        } finally {
            syncLock.unlock();
        }
    }

    /** Waits for at least one completion on {@code q}; returns how many completed. */
    private int waitFor(BlockQueue q, String what) throws VirtioDriverException {
        int done = q.complete(sync);
        if (done > 0) {
            return done;
        }
        long timeout = driver.options().timeout().toNanos();
        if (!q.await(timeout, TimeUnit.NANOSECONDS)) {
            throw new VirtioDriverException(Errno.ETIMEDOUT, what + ": the device did not answer within "
                    + driver.options().timeout());
        }
        return q.complete(sync);
    }

    /** Collects the first failing status of a blocking call. */
    private static final class SyncCompletion implements BlockCompletion {
        private int failed;

        void reset() {
            failed = BlkSpec.S_OK;
        }

        @Override
        public void completed(long cookie, int status) {
            if (status != BlkSpec.S_OK && failed == BlkSpec.S_OK) {
                failed = status;
            }
        }

        void throwIfFailed(String what) throws VirtioBlockException {
            if (failed != BlkSpec.S_OK) {
                throw new VirtioBlockException(what, failed);
            }
        }
    }

    /** Resets the device and releases the driver's memory and fds. */
    @Override
    public void close() {
        driver.close();
    }
}

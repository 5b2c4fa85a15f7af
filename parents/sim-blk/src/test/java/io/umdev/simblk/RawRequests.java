package io.umdev.simblk;

import io.umdev.virtio.driver.BufferChain;
import io.umdev.virtio.driver.DriverOptions;
import io.umdev.virtio.driver.DriverQueue;
import io.umdev.virtio.driver.VirtioDriver;
import io.umdev.virtio.driver.VirtioDriverException;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * Hand-made requests on queue 0, for what {@code VirtioBlockDisk} would never send: odd framings,
 * unknown types, writes to a read-only disk, a driver without FLUSH. A scratch area of driver memory
 * holds headers, data and status bytes wherever a test puts them.
 */
final class RawRequests implements AutoCloseable {
    static final int SCRATCH = 2 << 20;
    private static final long TIMEOUT_SECONDS = 10;

    private final VirtioDriver driver;
    private final DriverQueue queue;
    private final long scratch;

    private RawRequests(VirtioDriver driver, long scratch) {
        this.driver = driver;
        this.queue = driver.queue(0);
        this.scratch = scratch;
    }

    static RawRequests open(VirtioDevice device, long wantedFeatures) throws VirtioDriverException {
        // The device's full queue size, so that a chain of seg_max segments fits without indirect tables.
        VirtioDriver driver = VirtioDriver.open(device, wantedFeatures,
                DriverOptions.defaults().withMaxQueueSize(SimBlkDevice.QUEUE_SIZE));
        long scratch = driver.reserve(SCRATCH, 4096);
        driver.start(1);
        return new RawRequests(driver, scratch);
    }

    VirtioDriver driver() {
        return driver;
    }

    /** The scratch memory, as the driver sees it. */
    MemorySegment memory() {
        return driver.memory().slice(scratch, SCRATCH);
    }

    /** The IOVA of scratch byte {@code offset}. */
    long iova(long offset) {
        return driver.memory().iovaOf(scratch + offset);
    }

    /**
     * Offers {@code chain}, kicks and waits for the device to use it.
     *
     * @return the length the device reported written
     * @throws VirtioDriverException if the device went NEEDS_RESET instead
     */
    int submit(BufferChain chain) throws VirtioDriverException {
        if (!queue.add(chain, 0)) {
            throw new IllegalStateException("the ring is full");
        }
        queue.kick();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
        while (true) {
            int token = queue.poll();
            if (token != DriverQueue.NONE) {
                return queue.usedLength();
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new IllegalStateException("the device did not answer");
            }
            queue.await(left, TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public void close() {
        driver.close();
    }
}

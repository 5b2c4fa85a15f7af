package io.umdev.simblk;

import static io.umdev.virtio.spec.BlkSpec.SECTOR_SHIFT;
import static io.umdev.virtio.spec.BlkSpec.SECTOR_SIZE;

import io.umdev.mdev.InstanceContext;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.transport.SoftwareVirtioDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A virtio-blk device over a {@link BlockStore}: config space, features, and one {@link BlkQueue}
 * handler per request queue. The transport, the rings and the worker are {@link SoftwareVirtioDevice}'s.
 *
 * <p>Writes are acknowledged once in the store (a file's page cache); FLUSH makes them durable. A driver
 * that does not negotiate VIRTIO_BLK_F_FLUSH gets a write-through disk instead: each write is synced
 * before it is acknowledged, as virtio requires when the driver cannot ask for a flush.
 */
public final class SimBlkDevice extends SoftwareVirtioDevice {
    /**
     * Descriptors per queue. Larger than QEMU's 256 so that seg_max covers a 1 MiB I/O in scattered 4 KiB
     * pages (256 segments) plus header and status: the guest then sends it as one request, not two.
     */
    static final int QUEUE_SIZE = 1024;
    /** Largest data segment a driver may use (size_max): bounds the time one segment holds the worker. */
    static final int SIZE_MAX = 1 << 20;
    /** Data segments per request (seg_max): the ring minus the header and status descriptors. */
    static final int SEG_MAX = QUEUE_SIZE - 2;
    /** The most data one IN or OUT may move: seg_max segments of size_max (fits the used length's int). */
    static final long MAX_REQUEST_BYTES = (long) SEG_MAX * SIZE_MAX;
    /** Physical block 4 KiB = 512 << 3: writes of whole pages avoid read-modify-write in the page cache. */
    static final int PHYSICAL_BLOCK_EXP = 3;
    /** Suggested minimum IO, in logical blocks: one physical block. */
    static final int MIN_IO_BLOCKS = 1 << PHYSICAL_BLOCK_EXP;
    /** Largest discard or write-zeroes segment, in sectors (1 GiB): bounds one fallocate or zero-fill. */
    static final int MAX_DWZ_SECTORS = (1 << 30) >> SECTOR_SHIFT;
    /** Segments per discard or write-zeroes request. */
    static final int MAX_DWZ_SEGMENTS = 16;
    /** Discards aligned to a page free whole pages: in sectors. */
    static final int DISCARD_ALIGNMENT_SECTORS = 4096 >> SECTOR_SHIFT;

    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final BlockStore store;
    private final DiskConfig disk;
    private final BlkQueue[] queues;

    SimBlkDevice(InstanceContext context, DiskConfig disk, BlockStore store) {
        super(Definition.of(SimBlkParent.NAME + "/" + context.uuid(), VirtioId.BLOCK, classFeatures(disk),
                disk.numQueues(), QUEUE_SIZE, BlkSpec.CONFIG_SIZE), context.dmaTable());
        this.store = store;
        this.disk = disk;
        MemorySegment id = MemorySegment.ofArray(new byte[BlkSpec.ID_BYTES]);
        byte[] serial = disk.serial().getBytes(StandardCharsets.US_ASCII);
        MemorySegment.copy(serial, 0, id, ValueLayout.JAVA_BYTE, 0, Math.min(serial.length, BlkSpec.ID_BYTES));
        this.queues = new BlkQueue[disk.numQueues()];
        for (int q = 0; q < queues.length; q++) {
            queues[q] = new BlkQueue(this, q, store, store.capacity() >> SECTOR_SHIFT, disk.readOnly(), id);
        }
        updateConfig(this::fillConfig);
    }

    private static long classFeatures(DiskConfig disk) {
        long features = VirtioFeature.bits(BlkSpec.F_SIZE_MAX, BlkSpec.F_SEG_MAX, BlkSpec.F_BLK_SIZE,
                BlkSpec.F_TOPOLOGY, BlkSpec.F_FLUSH, BlkSpec.F_MQ);
        if (disk.readOnly()) {
            features |= VirtioFeature.bit(BlkSpec.F_RO);
        } else {
            features |= VirtioFeature.bits(BlkSpec.F_DISCARD, BlkSpec.F_WRITE_ZEROES);
        }
        return features;
    }

    private void fillConfig(MemorySegment config) {
        config.set(LE64, BlkSpec.CONFIG_CAPACITY, store.capacity() >> SECTOR_SHIFT);
        config.set(LE32, BlkSpec.CONFIG_SIZE_MAX, SIZE_MAX);
        config.set(LE32, BlkSpec.CONFIG_SEG_MAX, SEG_MAX);
        config.set(LE32, BlkSpec.CONFIG_BLK_SIZE, SECTOR_SIZE);
        config.set(ValueLayout.JAVA_BYTE, BlkSpec.CONFIG_PHYSICAL_BLOCK_EXP, (byte) PHYSICAL_BLOCK_EXP);
        config.set(ValueLayout.JAVA_BYTE, BlkSpec.CONFIG_ALIGNMENT_OFFSET, (byte) 0);
        config.set(LE16, BlkSpec.CONFIG_MIN_IO_SIZE, (short) MIN_IO_BLOCKS);
        config.set(LE32, BlkSpec.CONFIG_OPT_IO_SIZE, 0);
        config.set(LE16, BlkSpec.CONFIG_NUM_QUEUES, (short) disk.numQueues());
        if (!disk.readOnly()) {
            config.set(LE32, BlkSpec.CONFIG_MAX_DISCARD_SECTORS, MAX_DWZ_SECTORS);
            config.set(LE32, BlkSpec.CONFIG_MAX_DISCARD_SEG, MAX_DWZ_SEGMENTS);
            config.set(LE32, BlkSpec.CONFIG_DISCARD_SECTOR_ALIGNMENT, DISCARD_ALIGNMENT_SECTORS);
            config.set(LE32, BlkSpec.CONFIG_MAX_WRITE_ZEROES_SECTORS, MAX_DWZ_SECTORS);
            config.set(LE32, BlkSpec.CONFIG_MAX_WRITE_ZEROES_SEG, MAX_DWZ_SEGMENTS);
            config.set(ValueLayout.JAVA_BYTE, BlkSpec.CONFIG_WRITE_ZEROES_MAY_UNMAP, (byte) 1);
        }
    }

    @Override
    protected BlkQueue requestHandler(int q) {
        long features = driverFeatures();
        queues[q].start(VirtioFeature.has(features, BlkSpec.F_FLUSH), VirtioFeature.has(features, BlkSpec.F_DISCARD),
                VirtioFeature.has(features, BlkSpec.F_WRITE_ZEROES));
        return queues[q];
    }

    /** Counts an IO error or unsupported request in the queue's transport counters too. */
    void countError(int q) {
        counters(q).error();
    }

    /** The store behind the disk. */
    public BlockStore store() {
        return store;
    }

    /** Every queue's blk counters added up. */
    public BlkStatistics blkStatistics() {
        BlkStatistics total = BlkStatistics.ZERO;
        for (BlkQueue queue : queues) {
            total = total.plus(queue.statistics());
        }
        return total;
    }

    /** The blk counters of queue {@code q}. */
    public BlkStatistics blkStatistics(int q) {
        return queues[q].statistics();
    }

    /** Disk totals (reads, writes, flushes, bytes, errors, syncs of the store), then each queue's counters. */
    @Override
    public Map<String, Long> statistics() {
        Map<String, Long> m = new LinkedHashMap<>(blkStatistics().asMap(""));
        m.put("syncs", store.syncs());
        for (int q = 0; q < queues.length; q++) {
            m.putAll(queues[q].statistics().asMap("q" + q + "."));
        }
        m.putAll(super.statistics());
        return m;
    }

    /** Stops the data path and its worker, then releases the store. */
    @Override
    public void close() {
        super.close();
        store.close();
    }
}

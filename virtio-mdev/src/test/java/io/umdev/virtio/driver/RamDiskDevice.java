package io.umdev.virtio.driver;

import io.umdev.virtio.ring.DescriptorChain;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.transport.RequestHandler;
import io.umdev.virtio.transport.SoftwareVirtioDevice;
import io.umdev.vfiouser.dma.DmaTable;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A RAM disk on the software device core, for driving the block driver against real rings: IN, OUT,
 * FLUSH, GET_ID, DISCARD and WRITE_ZEROES over a heap array; IOERR past the end, UNSUPP for anything
 * else (and for GET_ID when it has no ID). Answers on the device's worker thread.
 */
public final class RamDiskDevice extends SoftwareVirtioDevice {
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final long FEATURES = VirtioFeature.bits(BlkSpec.F_BLK_SIZE, BlkSpec.F_FLUSH, BlkSpec.F_MQ,
            BlkSpec.F_DISCARD, BlkSpec.F_WRITE_ZEROES, BlkSpec.F_SEG_MAX);
    static final int BLOCK_SIZE = 4096;
    private static final int SEG_MAX = 64;

    private final MemorySegment disk;
    private final long sectors;
    private final String id;
    private final AtomicInteger requests = new AtomicInteger();
    private final AtomicInteger flushes = new AtomicInteger();

    public RamDiskDevice(DmaTable dma, long bytes, int queues, int queueSize, String id) {
        this(dma, bytes, queues, queueSize, id, 0);
    }

    /** @param withoutFeatures engine or class features not to offer */
    RamDiskDevice(DmaTable dma, long bytes, int queues, int queueSize, String id, long withoutFeatures) {
        super(definition(queues, queueSize, withoutFeatures), dma);
        this.disk = MemorySegment.ofArray(new byte[Math.toIntExact(bytes)]);
        this.sectors = bytes / BlkSpec.SECTOR_SIZE;
        this.id = id;
        updateConfig(c -> {
            c.set(LE64, BlkSpec.CONFIG_CAPACITY, sectors);
            c.set(LE32, BlkSpec.CONFIG_SEG_MAX, SEG_MAX);
            c.set(LE32, BlkSpec.CONFIG_BLK_SIZE, BLOCK_SIZE);
            c.set(LE16, BlkSpec.CONFIG_NUM_QUEUES, (short) queues);
        });
    }

    private static Definition definition(int queues, int queueSize, long withoutFeatures) {
        Definition d = Definition.of("ramdisk", VirtioId.BLOCK, FEATURES, queues, queueSize, BlkSpec.CONFIG_SIZE);
        return d.withFeatures(d.features() & ~withoutFeatures);
    }

    /** The disk's bytes (read them once the driver has its answer). */
    public MemorySegment contents() {
        return disk;
    }

    int requests() {
        return requests.get();
    }

    int flushes() {
        return flushes.get();
    }

    @Override
    protected RequestHandler requestHandler(int q) {
        return this::handle;
    }

    private int handle(DescriptorChain chain) {
        requests.incrementAndGet();
        long writable = chain.writableLength();
        if (chain.readableLength() < BlkSpec.REQ_HDR_SIZE || writable < BlkSpec.REQ_STATUS_SIZE) {
            needsReset("a block request without header or status byte");
            return 0;
        }
        int type = (int) chain.readLe32(BlkSpec.REQ_TYPE);
        long sector = chain.readLe64(BlkSpec.REQ_SECTOR);
        long statusAt = writable - BlkSpec.REQ_STATUS_SIZE;
        int status;
        long written = 0;
        switch (type) {
            case BlkSpec.T_IN -> {
                long length = statusAt;
                status = inRange(sector, length) ? BlkSpec.S_OK : BlkSpec.S_IOERR;
                if (status == BlkSpec.S_OK) {
                    written = chain.write(0, disk, sector * BlkSpec.SECTOR_SIZE, length);
                }
            }
            case BlkSpec.T_OUT -> {
                long length = chain.readableLength() - BlkSpec.REQ_HDR_SIZE;
                status = inRange(sector, length) ? BlkSpec.S_OK : BlkSpec.S_IOERR;
                if (status == BlkSpec.S_OK) {
                    chain.read(BlkSpec.REQ_HDR_SIZE, disk, sector * BlkSpec.SECTOR_SIZE, length);
                }
            }
            case BlkSpec.T_FLUSH -> {
                flushes.incrementAndGet();
                status = BlkSpec.S_OK;
            }
            case BlkSpec.T_GET_ID -> {
                if (id == null) {
                    status = BlkSpec.S_UNSUPP;
                } else {
                    byte[] bytes = new byte[BlkSpec.ID_BYTES];
                    byte[] text = id.getBytes(StandardCharsets.US_ASCII);
                    System.arraycopy(text, 0, bytes, 0, Math.min(text.length, bytes.length));
                    written = chain.write(0, MemorySegment.ofArray(bytes), 0, Math.min(statusAt, bytes.length));
                    status = BlkSpec.S_OK;
                }
            }
            case BlkSpec.T_DISCARD, BlkSpec.T_WRITE_ZEROES -> status = zeroRanges(chain);
            default -> status = BlkSpec.S_UNSUPP;
        }
        chain.writeU8(statusAt, status);
        return (int) (statusAt + BlkSpec.REQ_STATUS_SIZE);
    }

    private int zeroRanges(DescriptorChain chain) {
        long data = chain.readableLength() - BlkSpec.REQ_HDR_SIZE;
        if (data <= 0 || data % BlkSpec.SEG_SIZE != 0) {
            return BlkSpec.S_UNSUPP;
        }
        for (long at = BlkSpec.REQ_HDR_SIZE; at < chain.readableLength(); at += BlkSpec.SEG_SIZE) {
            long sector = chain.readLe64(at + BlkSpec.SEG_SECTOR);
            long count = chain.readLe32(at + BlkSpec.SEG_NUM_SECTORS);
            if (!inRange(sector, count * BlkSpec.SECTOR_SIZE)) {
                return BlkSpec.S_IOERR;
            }
            disk.asSlice(sector * BlkSpec.SECTOR_SIZE, count * BlkSpec.SECTOR_SIZE).fill((byte) 0);
        }
        return BlkSpec.S_OK;
    }

    private boolean inRange(long sector, long length) {
        return length % BlkSpec.SECTOR_SIZE == 0 && sector >= 0 && sector <= sectors
                && length / BlkSpec.SECTOR_SIZE <= sectors - sector;
    }
}

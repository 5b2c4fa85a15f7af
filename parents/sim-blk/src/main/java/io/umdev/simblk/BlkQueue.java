package io.umdev.simblk;

import static io.umdev.virtio.spec.BlkSpec.REQ_HDR_SIZE;
import static io.umdev.virtio.spec.BlkSpec.REQ_STATUS_SIZE;
import static io.umdev.virtio.spec.BlkSpec.SECTOR_SHIFT;
import static io.umdev.virtio.spec.BlkSpec.SECTOR_SIZE;
import static io.umdev.virtio.spec.BlkSpec.SEG_SIZE;

import io.umdev.linux.IoVector;
import io.umdev.linux.LinuxException;
import io.umdev.virtio.ring.DescriptorChain;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.virtio.transport.RequestHandler;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The requests of one virtio-blk queue (virtio 5.2.6), on the device's worker thread. Reads and writes
 * move data straight between the store and the guest memory each descriptor maps: no copy, no buffer,
 * no allocation per request.
 *
 * <p>What the guest sends is checked before use. A request the spec lets a driver get wrong is answered
 * with a status: an unknown or unnegotiated type with UNSUPP; a sector range past the capacity, a data
 * length that is not whole sectors or exceeds seg_max x size_max, a write to a read-only disk, or a
 * failing store with IOERR. A chain
 * that is not a virtio-blk request at all (no readable header, no writable status byte, data in the
 * wrong direction) breaks the transport's rules: the device goes NEEDS_RESET.
 */
final class BlkQueue implements RequestHandler {
    private static final Logger LOG = LoggerFactory.getLogger(BlkQueue.class);

    private static final VarHandle COUNT = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int READS = 0;
    private static final int WRITES = 1;
    private static final int FLUSHES = 2;
    private static final int DISCARDS = 3;
    private static final int WRITE_ZEROES = 4;
    private static final int GET_IDS = 5;
    private static final int READ_BYTES = 6;
    private static final int WRITTEN_BYTES = 7;
    private static final int IO_ERRORS = 8;
    private static final int UNSUPPORTED = 9;
    private static final int COUNTERS = 10;

    /** What a request handler returns when the device went NEEDS_RESET: nothing is published anyway. */
    private static final int ABANDONED = 0;

    private final SimBlkDevice device;
    private final int index;
    private final BlockStore store;
    private final long capacitySectors;
    private final boolean readOnly;
    /** The guest buffers of the request in hand, for one preadv/pwritev; worker thread only. */
    private final IoVector vector = IoVector.allocate(SimBlkDevice.QUEUE_SIZE);
    private final MemorySegment id;
    /** Single writer (the worker); read by management threads. */
    private final long[] counts = new long[COUNTERS];

    /** Negotiated at DRIVER_OK; written before the queue starts, under the device lock the worker takes. */
    private boolean writeThrough;
    private boolean discardNegotiated;
    private boolean writeZeroesNegotiated;

    BlkQueue(SimBlkDevice device, int index, BlockStore store, long capacitySectors, boolean readOnly, MemorySegment id) {
        this.device = device;
        this.index = index;
        this.store = store;
        this.capacitySectors = capacitySectors;
        this.readOnly = readOnly;
        this.id = id;
    }

    /** The driver's features, at DRIVER_OK. */
    void start(boolean flushNegotiated, boolean discard, boolean writeZeroes) {
        this.writeThrough = !flushNegotiated;
        this.discardNegotiated = discard;
        this.writeZeroesNegotiated = writeZeroes;
    }

    @Override
    public int handle(DescriptorChain chain) {
        long readable = chain.readableLength();
        long writable = chain.writableLength();
        if (readable < REQ_HDR_SIZE) {
            return malformed(chain, "the request header needs " + REQ_HDR_SIZE + " device-readable bytes");
        }
        if (writable < REQ_STATUS_SIZE) {
            return malformed(chain, "there is no device-writable status byte");
        }
        long type = chain.readLe32(BlkSpec.REQ_TYPE);
        long sector = chain.readLe64(BlkSpec.REQ_SECTOR);
        long statusAt = writable - REQ_STATUS_SIZE;
        long written = 0;
        int status;
        switch ((int) type) {
            case BlkSpec.T_IN -> {
                if (readable != REQ_HDR_SIZE) {
                    return malformed(chain, "a read carries device-readable data after its header");
                }
                status = read(chain, sector, statusAt);
                written = status == BlkSpec.S_OK ? statusAt : 0;
            }
            case BlkSpec.T_OUT -> {
                if (writable != REQ_STATUS_SIZE) {
                    return malformed(chain, "a write has device-writable data before its status byte");
                }
                status = write(chain, sector, readable - REQ_HDR_SIZE);
            }
            case BlkSpec.T_FLUSH -> status = flush();
            case BlkSpec.T_GET_ID -> {
                written = Math.min(statusAt, BlkSpec.ID_BYTES);
                chain.write(0, id, 0, written);
                status = BlkSpec.S_OK;
                count(GET_IDS, 1);
            }
            case BlkSpec.T_DISCARD, BlkSpec.T_WRITE_ZEROES -> {
                if (writable != REQ_STATUS_SIZE) {
                    return malformed(chain, "a discard or write-zeroes has device-writable data before its status");
                }
                status = discardOrWriteZeroes(chain, type == BlkSpec.T_WRITE_ZEROES, readable - REQ_HDR_SIZE);
            }
            default -> status = BlkSpec.S_UNSUPP;
        }
        if (status == BlkSpec.S_IOERR) {
            count(IO_ERRORS, 1);
            device.countError(index);
        } else if (status == BlkSpec.S_UNSUPP) {
            count(UNSUPPORTED, 1);
            device.countError(index);
        }
        chain.writeU8(statusAt, status);
        return (int) (written + REQ_STATUS_SIZE);
    }

    private int malformed(DescriptorChain chain, String why) {
        device.needsReset("queue " + index + ": not a virtio-blk request (" + chain + "): " + why);
        return ABANDONED;
    }

    /**
     * Fills {@link #vector} with {@code length} bytes of segments [from, to) of the chain after skipping
     * {@code skip} bytes; false if they do not fit (the caller then goes segment by segment).
     */
    private boolean vectorOf(DescriptorChain chain, int from, int to, long skip, long length) {
        vector.clear();
        long left = length;
        for (int i = from; i < to && left > 0; i++) {
            long segment = Integer.toUnsignedLong(chain.length(i));
            if (skip >= segment) {
                skip -= segment;
                continue;
            }
            long n = Math.min(segment - skip, left);
            if (!vector.add(chain.memory(i), chain.memoryOffset(i) + skip, n)) {
                return false;
            }
            left -= n;
            skip = 0;
        }
        return left == 0;
    }

    /** Whether a read or write of {@code length} bytes is whole sectors, within the limits the config space gives. */
    private static boolean validLength(long length) {
        return (length & (SECTOR_SIZE - 1)) == 0 && length <= SimBlkDevice.MAX_REQUEST_BYTES;
    }

    /** Whether [sector, sector+count) lies on the disk; sector is unsigned as the guest wrote it. */
    private boolean inRange(long sector, long count) {
        return Long.compareUnsigned(sector, capacitySectors) <= 0 && count <= capacitySectors - sector;
    }

    /** IN: the writable part before the status byte receives the sectors from {@code sector}. */
    private int read(DescriptorChain chain, long sector, long length) {
        if (!validLength(length) || !inRange(sector, length >>> SECTOR_SHIFT)) {
            return BlkSpec.S_IOERR;
        }
        long offset = sector << SECTOR_SHIFT;
        long left = length;
        try {
            if (store instanceof FileStore file && vectorOf(chain, chain.readableCount(), chain.segmentCount(), 0, length)) {
                // One preadv for the whole request instead of one pread per guest page.
                file.readv(offset, vector);
            } else {
                for (int i = chain.readableCount(); i < chain.segmentCount() && left > 0; i++) {
                    long n = Math.min(Integer.toUnsignedLong(chain.length(i)), left);
                    store.read(offset, chain.memory(i), chain.memoryOffset(i), n);
                    offset += n;
                    left -= n;
                }
            }
        } catch (LinuxException e) {
            return storeFailed("read", sector, e);
        }
        count(READS, 1);
        count(READ_BYTES, length);
        return BlkSpec.S_OK;
    }

    /** OUT: the readable part after the header goes to the disk from {@code sector}. */
    private int write(DescriptorChain chain, long sector, long length) {
        if (readOnly || !validLength(length) || !inRange(sector, length >>> SECTOR_SHIFT)) {
            return BlkSpec.S_IOERR;
        }
        long offset = sector << SECTOR_SHIFT;
        long skip = REQ_HDR_SIZE;
        try {
            if (store instanceof FileStore file && vectorOf(chain, 0, chain.readableCount(), REQ_HDR_SIZE, length)) {
                // One pwritev for the whole request instead of one pwrite per guest page.
                file.writev(offset, vector);
            } else {
                for (int i = 0; i < chain.readableCount(); i++) {
                    long segment = Integer.toUnsignedLong(chain.length(i));
                    if (skip >= segment) {
                        skip -= segment;
                        continue;
                    }
                    long n = segment - skip;
                    store.write(offset, chain.memory(i), chain.memoryOffset(i) + skip, n);
                    offset += n;
                    skip = 0;
                }
            }
            if (writeThrough) {
                store.flush();
            }
        } catch (LinuxException e) {
            return storeFailed("write", sector, e);
        }
        count(WRITES, 1);
        count(WRITTEN_BYTES, length);
        return BlkSpec.S_OK;
    }

    private int flush() {
        try {
            store.flush();
        } catch (LinuxException e) {
            return storeFailed("flush", 0, e);
        }
        count(FLUSHES, 1);
        return BlkSpec.S_OK;
    }

    /** DISCARD or WRITE_ZEROES: the payload is an array of {sector, num_sectors, flags} segments. */
    private int discardOrWriteZeroes(DescriptorChain chain, boolean writeZeroes, long payload) {
        if (!(writeZeroes ? writeZeroesNegotiated : discardNegotiated)) {
            return BlkSpec.S_UNSUPP;
        }
        if (payload == 0 || payload % SEG_SIZE != 0) {
            return BlkSpec.S_IOERR;
        }
        long segments = payload / SEG_SIZE;
        if (segments > SimBlkDevice.MAX_DWZ_SEGMENTS) {
            return BlkSpec.S_UNSUPP;
        }
        if (readOnly) {
            return BlkSpec.S_IOERR;
        }
        for (int s = 0; s < segments; s++) {
            long at = REQ_HDR_SIZE + (long) s * SEG_SIZE;
            long sector = chain.readLe64(at + BlkSpec.SEG_SECTOR);
            long count = chain.readLe32(at + BlkSpec.SEG_NUM_SECTORS);
            long flags = chain.readLe32(at + BlkSpec.SEG_FLAGS);
            // Discard has no flags; write-zeroes knows only UNMAP.
            long known = writeZeroes ? BlkSpec.SEG_F_UNMAP : 0;
            if ((flags & ~known) != 0) {
                return BlkSpec.S_UNSUPP;
            }
            if (count > SimBlkDevice.MAX_DWZ_SECTORS || !inRange(sector, count)) {
                return BlkSpec.S_IOERR;
            }
            try {
                if (writeZeroes) {
                    store.writeZeroes(sector << SECTOR_SHIFT, count << SECTOR_SHIFT, (flags & BlkSpec.SEG_F_UNMAP) != 0);
                } else {
                    store.discard(sector << SECTOR_SHIFT, count << SECTOR_SHIFT);
                }
            } catch (LinuxException e) {
                return storeFailed(writeZeroes ? "write-zeroes" : "discard", sector, e);
            }
        }
        if (writeThrough) {
            try {
                store.flush();
            } catch (LinuxException e) {
                return storeFailed("flush", 0, e);
            }
        }
        count(writeZeroes ? WRITE_ZEROES : DISCARDS, 1);
        return BlkSpec.S_OK;
    }

    private int storeFailed(String what, long sector, LinuxException e) {
        LOG.warn("queue {}: {} at sector {} failed on {}: {}", index, what, Long.toUnsignedString(sector),
                store.describe(), e.getMessage());
        return BlkSpec.S_IOERR;
    }

    private void count(int counter, long n) {
        COUNT.setOpaque(counts, counter, counts[counter] + n);
    }

    private long get(int counter) {
        return (long) COUNT.getOpaque(counts, counter);
    }

    BlkStatistics statistics() {
        return new BlkStatistics(get(READS), get(WRITES), get(FLUSHES), get(DISCARDS), get(WRITE_ZEROES),
                get(GET_IDS), get(READ_BYTES), get(WRITTEN_BYTES), get(IO_ERRORS), get(UNSUPPORTED));
    }
}

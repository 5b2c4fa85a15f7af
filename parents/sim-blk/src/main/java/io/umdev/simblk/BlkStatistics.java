package io.umdev.simblk;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A snapshot of virtio-blk request counters (one queue's or a device's total), read without locking.
 *
 * @param reads IN requests completed OK
 * @param writes OUT requests completed OK
 * @param flushes FLUSH requests completed OK
 * @param discards DISCARD requests completed OK
 * @param writeZeroes WRITE_ZEROES requests completed OK
 * @param getIds GET_ID requests answered
 * @param readBytes bytes read from the disk into the driver's buffers
 * @param writtenBytes bytes written from the driver's buffers to the disk
 * @param ioErrors requests answered VIRTIO_BLK_S_IOERR (out of range, malformed length, read-only, store error)
 * @param unsupported requests answered VIRTIO_BLK_S_UNSUPP
 */
public record BlkStatistics(long reads, long writes, long flushes, long discards, long writeZeroes, long getIds,
        long readBytes, long writtenBytes, long ioErrors, long unsupported) {
    public static final BlkStatistics ZERO = new BlkStatistics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    public BlkStatistics plus(BlkStatistics o) {
        return new BlkStatistics(reads + o.reads, writes + o.writes, flushes + o.flushes, discards + o.discards,
                writeZeroes + o.writeZeroes, getIds + o.getIds, readBytes + o.readBytes, writtenBytes + o.writtenBytes,
                ioErrors + o.ioErrors, unsupported + o.unsupported);
    }

    /** Name to value, in display order, each name prefixed (e.g. {@code q0.}). */
    public Map<String, Long> asMap(String prefix) {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put(prefix + "reads", reads);
        m.put(prefix + "writes", writes);
        m.put(prefix + "flushes", flushes);
        m.put(prefix + "discards", discards);
        m.put(prefix + "write_zeroes", writeZeroes);
        m.put(prefix + "get_ids", getIds);
        m.put(prefix + "read_bytes", readBytes);
        m.put(prefix + "written_bytes", writtenBytes);
        m.put(prefix + "io_errors", ioErrors);
        m.put(prefix + "unsupported", unsupported);
        return m;
    }
}

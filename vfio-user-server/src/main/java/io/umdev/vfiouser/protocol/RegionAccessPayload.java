package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * VFIO_USER_REGION_READ and VFIO_USER_REGION_WRITE: offset, region index and count, followed by
 * {@code count} data bytes in a write request and in a read reply. A write reply and a read request
 * carry the fixed part only.
 *
 * @param data the bytes after the fixed part (a view into the message; empty when none)
 */
public record RegionAccessPayload(long offset, int region, int count, MemorySegment data) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG_UNALIGNED.withName("offset"),
            JAVA_INT_UNALIGNED.withName("region"),
            JAVA_INT_UNALIGNED.withName("count"));
    /** Where the data starts, from the start of the payload. */
    public static final long DATA_OFFSET = LAYOUT.byteSize();

    private static final VarHandle OFFSET = Wire.field(LAYOUT, "offset");
    private static final VarHandle REGION = Wire.field(LAYOUT, "region");
    private static final VarHandle COUNT = Wire.field(LAYOUT, "count");

    public static RegionAccessPayload decode(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "REGION_READ/WRITE");
        return new RegionAccessPayload((long) OFFSET.get(payload), (int) REGION.get(payload),
                (int) COUNT.get(payload), payload.asSlice(DATA_OFFSET));
    }

    /** The count as the unsigned number it is on the wire. */
    public long byteCount() {
        return Integer.toUnsignedLong(count);
    }

    /** Writes the fixed part only; the caller places the data at {@link #DATA_OFFSET}. */
    public static long encodeHead(MemorySegment out, long offset, int region, int count) {
        OFFSET.set(out, offset);
        REGION.set(out, region);
        COUNT.set(out, count);
        return LAYOUT.byteSize();
    }
}

package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * VFIO_USER_REGION_WRITE_MULTI: a count, then that many small region writes of at most 8 bytes
 * each (QEMU coalesces posted writes this way when its queue is full). The reply, if one is wanted,
 * is the count of writes done.
 */
public final class WriteMultiPayload {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(JAVA_LONG_UNALIGNED.withName("wr_cnt"));
    public static final StructLayout WRITE = MemoryLayout.structLayout(
            JAVA_LONG_UNALIGNED.withName("offset"),
            JAVA_INT_UNALIGNED.withName("region"),
            JAVA_INT_UNALIGNED.withName("count"),
            MemoryLayout.sequenceLayout(Long.BYTES, java.lang.foreign.ValueLayout.JAVA_BYTE).withName("data"));
    /** The most data one coalesced write can carry. */
    public static final int MAX_DATA = Long.BYTES;
    private static final long DATA_IN_WRITE = WRITE.byteOffset(MemoryLayout.PathElement.groupElement("data"));

    private static final VarHandle WR_CNT = Wire.field(LAYOUT, "wr_cnt");
    private static final VarHandle OFFSET = Wire.fieldAt(WRITE, "offset");
    private static final VarHandle REGION = Wire.fieldAt(WRITE, "region");
    private static final VarHandle COUNT = Wire.fieldAt(WRITE, "count");

    /** One coalesced write; {@code data} is a view of its {@code count} bytes. */
    public record Write(long offset, int region, int count, MemorySegment data) {
    }

    private WriteMultiPayload() {
    }

    /** The number of writes a request holds, checked against the payload's length. */
    public static int count(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "REGION_WRITE_MULTI");
        long count = (long) WR_CNT.get(payload);
        long room = (payload.byteSize() - LAYOUT.byteSize()) / WRITE.byteSize();
        if (count < 0 || count > room || payload.byteSize() != LAYOUT.byteSize() + count * WRITE.byteSize()) {
            throw ProtocolException.invalid("REGION_WRITE_MULTI says %d writes in a %d-byte payload",
                    count, payload.byteSize());
        }
        return (int) count;
    }

    /** Write {@code i} of a request whose count was checked with {@link #count}. */
    public static Write write(MemorySegment payload, int i) throws ProtocolException {
        long at = LAYOUT.byteSize() + i * WRITE.byteSize();
        int count = (int) COUNT.get(payload, at);
        if (count <= 0 || count > MAX_DATA) {
            throw ProtocolException.invalid("REGION_WRITE_MULTI write %d has count %d (1..%d)",
                    i, Integer.toUnsignedLong(count), MAX_DATA);
        }
        return new Write((long) OFFSET.get(payload, at), (int) REGION.get(payload, at), count,
                payload.asSlice(at + DATA_IN_WRITE, count));
    }

    public static long encodeCount(MemorySegment out, long count) {
        WR_CNT.set(out, count);
        return LAYOUT.byteSize();
    }

    /** Writes entry {@code i}: its fixed fields and up to 8 data bytes. */
    public static void encodeWrite(MemorySegment out, int i, long offset, int region, MemorySegment data) {
        long at = LAYOUT.byteSize() + i * WRITE.byteSize();
        OFFSET.set(out, at, offset);
        REGION.set(out, at, region);
        COUNT.set(out, at, (int) data.byteSize());
        out.asSlice(at + DATA_IN_WRITE, MAX_DATA).fill((byte) 0);
        MemorySegment.copy(data, 0, out, at + DATA_IN_WRITE, data.byteSize());
    }
}

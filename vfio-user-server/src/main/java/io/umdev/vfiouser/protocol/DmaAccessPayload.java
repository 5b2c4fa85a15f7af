package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * VFIO_USER_DMA_READ and VFIO_USER_DMA_WRITE (server to client): address and a 64-bit count,
 * followed by the data in a write request and a read reply. The spec draws the DMA_WRITE reply's
 * count as 4 bytes; QEMU's client answers with the full 16-byte structure, so a reply of at least 12
 * bytes is accepted and 16 are sent.
 *
 * @param data the bytes after the fixed part (a view into the message; empty when none)
 */
public record DmaAccessPayload(long address, long count, MemorySegment data) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG_UNALIGNED.withName("address"),
            JAVA_LONG_UNALIGNED.withName("count"));
    public static final long DATA_OFFSET = LAYOUT.byteSize();
    /** The shortest DMA_WRITE reply accepted: the spec's 8-byte address plus 4-byte count. */
    public static final long MIN_WRITE_REPLY = Long.BYTES + Integer.BYTES;

    private static final VarHandle ADDRESS = Wire.field(LAYOUT, "address");
    private static final VarHandle COUNT = Wire.field(LAYOUT, "count");

    public static DmaAccessPayload decode(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "DMA_READ/WRITE");
        return new DmaAccessPayload((long) ADDRESS.get(payload), (long) COUNT.get(payload), payload.asSlice(DATA_OFFSET));
    }

    public static long encodeHead(MemorySegment out, long address, long count) {
        ADDRESS.set(out, address);
        COUNT.set(out, count);
        return LAYOUT.byteSize();
    }
}

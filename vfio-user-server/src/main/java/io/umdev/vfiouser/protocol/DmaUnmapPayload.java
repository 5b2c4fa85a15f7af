package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * VFIO_USER_DMA_UNMAP request and reply (the reply echoes the request). The range must match an
 * earlier map exactly; FLAG_ALL with address = size = 0 unmaps everything.
 */
public record DmaUnmapPayload(int argsz, int flags, long iova, long size) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT_UNALIGNED.withName("argsz"),
            JAVA_INT_UNALIGNED.withName("flags"),
            JAVA_LONG_UNALIGNED.withName("address"),
            JAVA_LONG_UNALIGNED.withName("size"));
    /** Return the dirty bitmap of the range (VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP): not offered. */
    public static final int FLAG_GET_DIRTY_BITMAP = 0x1;
    /** Unmap every range (VFIO_DMA_UNMAP_FLAG_ALL). */
    public static final int FLAG_ALL = 0x2;
    public static final int KNOWN_FLAGS = FLAG_GET_DIRTY_BITMAP | FLAG_ALL;

    private static final VarHandle ARGSZ = Wire.field(LAYOUT, "argsz");
    private static final VarHandle FLAGS = Wire.field(LAYOUT, "flags");
    private static final VarHandle ADDRESS = Wire.field(LAYOUT, "address");
    private static final VarHandle SIZE = Wire.field(LAYOUT, "size");

    public static DmaUnmapPayload decode(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "DMA_UNMAP");
        int argsz = (int) ARGSZ.get(payload);
        Wire.requireArgsz(argsz, LAYOUT, "DMA_UNMAP");
        return new DmaUnmapPayload(argsz, (int) FLAGS.get(payload), (long) ADDRESS.get(payload),
                (long) SIZE.get(payload));
    }

    public long encode(MemorySegment out) {
        ARGSZ.set(out, argsz);
        FLAGS.set(out, flags);
        ADDRESS.set(out, iova);
        SIZE.set(out, size);
        return LAYOUT.byteSize();
    }
}

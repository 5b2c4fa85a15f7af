package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * VFIO_USER_DMA_MAP request (struct vfio_iommu_type1_dma_map): the client offers [iova, iova+size)
 * of its memory, with an fd to mmap at {@code fileOffset} or, without one, reachable only through
 * DMA_READ/DMA_WRITE messages. The reply has no payload.
 */
public record DmaMapPayload(int flags, long fileOffset, long iova, long size) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT_UNALIGNED.withName("argsz"),
            JAVA_INT_UNALIGNED.withName("flags"),
            JAVA_LONG_UNALIGNED.withName("offset"),
            JAVA_LONG_UNALIGNED.withName("address"),
            JAVA_LONG_UNALIGNED.withName("size"));
    /** The device may read the range. */
    public static final int FLAG_READ = 0x1;
    /** The device may write the range. */
    public static final int FLAG_WRITE = 0x2;
    public static final int KNOWN_FLAGS = FLAG_READ | FLAG_WRITE;

    private static final VarHandle ARGSZ = Wire.field(LAYOUT, "argsz");
    private static final VarHandle FLAGS = Wire.field(LAYOUT, "flags");
    private static final VarHandle OFFSET = Wire.field(LAYOUT, "offset");
    private static final VarHandle ADDRESS = Wire.field(LAYOUT, "address");
    private static final VarHandle SIZE = Wire.field(LAYOUT, "size");

    public static DmaMapPayload decode(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "DMA_MAP");
        Wire.requireArgsz((int) ARGSZ.get(payload), LAYOUT, "DMA_MAP");
        return new DmaMapPayload((int) FLAGS.get(payload), (long) OFFSET.get(payload),
                (long) ADDRESS.get(payload), (long) SIZE.get(payload));
    }

    public long encode(MemorySegment out) {
        ARGSZ.set(out, (int) LAYOUT.byteSize());
        FLAGS.set(out, flags);
        OFFSET.set(out, fileOffset);
        ADDRESS.set(out, iova);
        SIZE.set(out, size);
        return LAYOUT.byteSize();
    }
}

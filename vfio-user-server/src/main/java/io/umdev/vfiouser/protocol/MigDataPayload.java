package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * VFIO_USER_MIG_DATA_READ and VFIO_USER_MIG_DATA_WRITE: argsz, size, then data in a write request
 * and a read reply. A read reply shorter than asked means the stream has ended.
 */
public record MigDataPayload(int argsz, int size, MemorySegment data) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT_UNALIGNED.withName("argsz"),
            JAVA_INT_UNALIGNED.withName("size"));
    public static final long DATA_OFFSET = LAYOUT.byteSize();

    private static final VarHandle ARGSZ = Wire.field(LAYOUT, "argsz");
    private static final VarHandle SIZE = Wire.field(LAYOUT, "size");

    public static MigDataPayload decode(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "MIG_DATA_READ/WRITE");
        int argsz = (int) ARGSZ.get(payload);
        Wire.requireArgsz(argsz, LAYOUT, "MIG_DATA_READ/WRITE");
        return new MigDataPayload(argsz, (int) SIZE.get(payload), payload.asSlice(DATA_OFFSET));
    }

    public long byteCount() {
        return Integer.toUnsignedLong(size);
    }

    public static long encodeHead(MemorySegment out, int argsz, int size) {
        ARGSZ.set(out, argsz);
        SIZE.set(out, size);
        return LAYOUT.byteSize();
    }
}

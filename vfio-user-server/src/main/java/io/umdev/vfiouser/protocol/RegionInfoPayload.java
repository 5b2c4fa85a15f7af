package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * VFIO_USER_DEVICE_GET_REGION_INFO request and reply (struct vfio_region_info). The request sets
 * argsz (largest reply accepted) and index. The reply's argsz is the full size it needs, capability
 * chain included; the chain is present only if it fit the request's argsz, and {@code capOffset} is
 * relative to the start of this structure.
 */
public record RegionInfoPayload(int argsz, int flags, int index, int capOffset, long size, long offset) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT_UNALIGNED.withName("argsz"),
            JAVA_INT_UNALIGNED.withName("flags"),
            JAVA_INT_UNALIGNED.withName("index"),
            JAVA_INT_UNALIGNED.withName("cap_offset"),
            JAVA_LONG_UNALIGNED.withName("size"),
            JAVA_LONG_UNALIGNED.withName("offset"));
    public static final int FLAG_READ = 0x1;
    public static final int FLAG_WRITE = 0x2;
    /** The client may mmap the region through the fd that comes with the reply. */
    public static final int FLAG_MMAP = 0x4;
    /** A capability chain follows (sparse mmap areas, region type). */
    public static final int FLAG_CAPS = 0x8;

    private static final VarHandle ARGSZ = Wire.field(LAYOUT, "argsz");
    private static final VarHandle FLAGS = Wire.field(LAYOUT, "flags");
    private static final VarHandle INDEX = Wire.field(LAYOUT, "index");
    private static final VarHandle CAP_OFFSET = Wire.field(LAYOUT, "cap_offset");
    private static final VarHandle SIZE = Wire.field(LAYOUT, "size");
    private static final VarHandle OFFSET = Wire.field(LAYOUT, "offset");

    public static RegionInfoPayload decode(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "DEVICE_GET_REGION_INFO");
        int argsz = (int) ARGSZ.get(payload);
        Wire.requireArgsz(argsz, LAYOUT, "DEVICE_GET_REGION_INFO");
        return new RegionInfoPayload(argsz, (int) FLAGS.get(payload), (int) INDEX.get(payload),
                (int) CAP_OFFSET.get(payload), (long) SIZE.get(payload), (long) OFFSET.get(payload));
    }

    public long encode(MemorySegment out) {
        ARGSZ.set(out, argsz);
        FLAGS.set(out, flags);
        INDEX.set(out, index);
        CAP_OFFSET.set(out, capOffset);
        SIZE.set(out, size);
        OFFSET.set(out, offset);
        return LAYOUT.byteSize();
    }
}

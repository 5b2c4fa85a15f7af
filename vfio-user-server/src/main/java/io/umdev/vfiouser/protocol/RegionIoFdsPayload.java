package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * VFIO_USER_DEVICE_GET_REGION_IO_FDS request and reply head. The reply is followed by
 * {@code count} {@link Subregion}s and carries their file descriptors; entry i sits at
 * {@code 16 + i * (argsz - 16) / count} (40 bytes each today).
 */
public record RegionIoFdsPayload(int argsz, int flags, int index, int count) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT_UNALIGNED.withName("argsz"),
            JAVA_INT_UNALIGNED.withName("flags"),
            JAVA_INT_UNALIGNED.withName("index"),
            JAVA_INT_UNALIGNED.withName("count"));
    public static final StructLayout SUBREGION = MemoryLayout.structLayout(
            JAVA_LONG_UNALIGNED.withName("offset"),
            JAVA_LONG_UNALIGNED.withName("size"),
            JAVA_INT_UNALIGNED.withName("fd_index"),
            JAVA_INT_UNALIGNED.withName("type"),
            JAVA_INT_UNALIGNED.withName("flags"),
            JAVA_INT_UNALIGNED.withName("padding"),
            JAVA_LONG_UNALIGNED.withName("datamatch"));
    /** Subregion type: an ioeventfd the client's hypervisor signals on a matching write. */
    public static final int TYPE_IOEVENTFD = 0;
    /** Subregion type: an ioregionfd (proposed KVM interface). */
    public static final int TYPE_IOREGIONFD = 1;
    /** ioeventfd flag KVM_IOEVENTFD_FLAG_DATAMATCH: signal only when the written value matches. */
    public static final int IOEVENTFD_FLAG_DATAMATCH = 0x1;

    private static final VarHandle ARGSZ = Wire.field(LAYOUT, "argsz");
    private static final VarHandle FLAGS = Wire.field(LAYOUT, "flags");
    private static final VarHandle INDEX = Wire.field(LAYOUT, "index");
    private static final VarHandle COUNT = Wire.field(LAYOUT, "count");
    private static final VarHandle SUB_OFFSET = Wire.fieldAt(SUBREGION, "offset");
    private static final VarHandle SUB_SIZE = Wire.fieldAt(SUBREGION, "size");
    private static final VarHandle SUB_FD_INDEX = Wire.fieldAt(SUBREGION, "fd_index");
    private static final VarHandle SUB_TYPE = Wire.fieldAt(SUBREGION, "type");
    private static final VarHandle SUB_FLAGS = Wire.fieldAt(SUBREGION, "flags");
    private static final VarHandle SUB_PADDING = Wire.fieldAt(SUBREGION, "padding");
    private static final VarHandle SUB_DATAMATCH = Wire.fieldAt(SUBREGION, "datamatch");

    /** One sub-region of a region and the fd (by index into the reply's fds) that stands for it. */
    public record Subregion(long offset, long size, int fdIndex, int type, int flags, long datamatch) {
    }

    public static RegionIoFdsPayload decode(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "DEVICE_GET_REGION_IO_FDS");
        int argsz = (int) ARGSZ.get(payload);
        Wire.requireArgsz(argsz, LAYOUT, "DEVICE_GET_REGION_IO_FDS");
        return new RegionIoFdsPayload(argsz, (int) FLAGS.get(payload), (int) INDEX.get(payload), (int) COUNT.get(payload));
    }

    public long encode(MemorySegment out) {
        ARGSZ.set(out, argsz);
        FLAGS.set(out, flags);
        INDEX.set(out, index);
        COUNT.set(out, count);
        return LAYOUT.byteSize();
    }

    /** Writes sub-region {@code i} after the head. */
    public static void encodeSubregion(MemorySegment out, int i, Subregion s) {
        long at = LAYOUT.byteSize() + i * SUBREGION.byteSize();
        SUB_OFFSET.set(out, at, s.offset());
        SUB_SIZE.set(out, at, s.size());
        SUB_FD_INDEX.set(out, at, s.fdIndex());
        SUB_TYPE.set(out, at, s.type());
        SUB_FLAGS.set(out, at, s.flags());
        SUB_PADDING.set(out, at, 0);
        SUB_DATAMATCH.set(out, at, s.datamatch());
    }

    /** Reads sub-region {@code i} of a reply whose entries are {@code stride} bytes apart. */
    public static Subregion decodeSubregion(MemorySegment reply, int i, long stride) throws ProtocolException {
        long at = LAYOUT.byteSize() + i * stride;
        if (stride < SUBREGION.byteSize() || at + SUBREGION.byteSize() > reply.byteSize()) {
            throw ProtocolException.invalid("IO_FDS sub-region %d lies outside the %d-byte reply", i, reply.byteSize());
        }
        return new Subregion((long) SUB_OFFSET.get(reply, at), (long) SUB_SIZE.get(reply, at),
                (int) SUB_FD_INDEX.get(reply, at), (int) SUB_TYPE.get(reply, at), (int) SUB_FLAGS.get(reply, at),
                (long) SUB_DATAMATCH.get(reply, at));
    }
}

package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * VFIO_USER_DEVICE_SET_IRQS request (struct vfio_irq_set): one data kind and one action over
 * sub-indexes [start, start+count) of IRQ index {@code index}. DATA_BOOL carries {@code count} bytes
 * after the structure; DATA_EVENTFD carries its eventfds as ancillary data (none: de-assign).
 * The reply has no payload.
 *
 * @param data the bytes after the fixed structure (the booleans, for DATA_BOOL)
 */
public record IrqSetPayload(int argsz, int flags, int index, int start, int count, MemorySegment data) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT_UNALIGNED.withName("argsz"),
            JAVA_INT_UNALIGNED.withName("flags"),
            JAVA_INT_UNALIGNED.withName("index"),
            JAVA_INT_UNALIGNED.withName("start"),
            JAVA_INT_UNALIGNED.withName("count"));
    public static final int DATA_NONE = 0x1;
    public static final int DATA_BOOL = 0x2;
    public static final int DATA_EVENTFD = 0x4;
    public static final int DATA_MASK = DATA_NONE | DATA_BOOL | DATA_EVENTFD;
    public static final int ACTION_MASK = 0x8;
    public static final int ACTION_UNMASK = 0x10;
    public static final int ACTION_TRIGGER = 0x20;
    public static final int ACTION_MASK_BITS = ACTION_MASK | ACTION_UNMASK | ACTION_TRIGGER;

    private static final VarHandle ARGSZ = Wire.field(LAYOUT, "argsz");
    private static final VarHandle FLAGS = Wire.field(LAYOUT, "flags");
    private static final VarHandle INDEX = Wire.field(LAYOUT, "index");
    private static final VarHandle START = Wire.field(LAYOUT, "start");
    private static final VarHandle COUNT = Wire.field(LAYOUT, "count");

    public static IrqSetPayload decode(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "DEVICE_SET_IRQS");
        int argsz = (int) ARGSZ.get(payload);
        Wire.requireArgsz(argsz, LAYOUT, "DEVICE_SET_IRQS");
        MemorySegment data = payload.asSlice(LAYOUT.byteSize());
        return new IrqSetPayload(argsz, (int) FLAGS.get(payload), (int) INDEX.get(payload),
                (int) START.get(payload), (int) COUNT.get(payload), data);
    }

    /** The data kind: exactly one of DATA_NONE, DATA_BOOL, DATA_EVENTFD when well-formed. */
    public int dataKind() {
        return flags & DATA_MASK;
    }

    /** The action: exactly one of ACTION_MASK, ACTION_UNMASK, ACTION_TRIGGER when well-formed. */
    public int action() {
        return flags & ACTION_MASK_BITS;
    }

    /** Writes the fixed structure (argsz as given) followed by {@code data}. */
    public long encode(MemorySegment out) {
        ARGSZ.set(out, argsz);
        FLAGS.set(out, flags);
        INDEX.set(out, index);
        START.set(out, start);
        COUNT.set(out, count);
        MemorySegment.copy(data, 0, out, LAYOUT.byteSize(), data.byteSize());
        return LAYOUT.byteSize() + data.byteSize();
    }
}

package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/** VFIO_USER_DEVICE_GET_IRQ_INFO request and reply (struct vfio_irq_info). */
public record IrqInfoPayload(int argsz, int flags, int index, int count) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT_UNALIGNED.withName("argsz"),
            JAVA_INT_UNALIGNED.withName("flags"),
            JAVA_INT_UNALIGNED.withName("index"),
            JAVA_INT_UNALIGNED.withName("count"));
    /** The server can signal this IRQ type through eventfds. */
    public static final int FLAG_EVENTFD = 0x1;
    /** MASK and UNMASK actions apply. */
    public static final int FLAG_MASKABLE = 0x2;
    /** The IRQ masks itself when triggered; the client must unmask it. */
    public static final int FLAG_AUTOMASKED = 0x4;
    /** Vectors are set up as a set: enabling more means disabling the index first. */
    public static final int FLAG_NORESIZE = 0x8;

    private static final VarHandle ARGSZ = Wire.field(LAYOUT, "argsz");
    private static final VarHandle FLAGS = Wire.field(LAYOUT, "flags");
    private static final VarHandle INDEX = Wire.field(LAYOUT, "index");
    private static final VarHandle COUNT = Wire.field(LAYOUT, "count");

    public static IrqInfoPayload decode(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "DEVICE_GET_IRQ_INFO");
        int argsz = (int) ARGSZ.get(payload);
        Wire.requireArgsz(argsz, LAYOUT, "DEVICE_GET_IRQ_INFO");
        return new IrqInfoPayload(argsz, (int) FLAGS.get(payload), (int) INDEX.get(payload), (int) COUNT.get(payload));
    }

    public long encode(MemorySegment out) {
        ARGSZ.set(out, argsz);
        FLAGS.set(out, flags);
        INDEX.set(out, index);
        COUNT.set(out, count);
        return LAYOUT.byteSize();
    }
}

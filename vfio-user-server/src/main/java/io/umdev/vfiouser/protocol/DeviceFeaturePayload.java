package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * VFIO_USER_DEVICE_FEATURE (struct vfio_device_feature): argsz, flags (feature index in the low 16
 * bits, GET/SET/PROBE above), then feature data. The reply repeats the structure, with the data of a
 * GET appended and counted in argsz.
 */
public record DeviceFeaturePayload(int argsz, int flags, MemorySegment data) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT_UNALIGNED.withName("argsz"),
            JAVA_INT_UNALIGNED.withName("flags"));
    public static final int FEATURE_MASK = 0xffff;
    public static final int GET = 1 << 16;
    public static final int SET = 1 << 17;
    public static final int PROBE = 1 << 18;
    public static final int KNOWN_FLAGS = FEATURE_MASK | GET | SET | PROBE;
    /** Feature indexes vfio-user defines (all about migration). */
    public static final int FEATURE_MIGRATION = 1;
    public static final int FEATURE_MIG_DEVICE_STATE = 2;
    public static final int FEATURE_DMA_LOGGING_START = 6;
    public static final int FEATURE_DMA_LOGGING_STOP = 7;
    public static final int FEATURE_DMA_LOGGING_REPORT = 8;

    private static final VarHandle ARGSZ = Wire.field(LAYOUT, "argsz");
    private static final VarHandle FLAGS = Wire.field(LAYOUT, "flags");

    public static DeviceFeaturePayload decode(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "DEVICE_FEATURE");
        int argsz = (int) ARGSZ.get(payload);
        Wire.requireArgsz(argsz, LAYOUT, "DEVICE_FEATURE");
        return new DeviceFeaturePayload(argsz, (int) FLAGS.get(payload), payload.asSlice(LAYOUT.byteSize()));
    }

    public int feature() {
        return flags & FEATURE_MASK;
    }

    public long encode(MemorySegment out) {
        ARGSZ.set(out, argsz);
        FLAGS.set(out, flags);
        MemorySegment.copy(data, 0, out, LAYOUT.byteSize(), data.byteSize());
        return LAYOUT.byteSize() + data.byteSize();
    }
}

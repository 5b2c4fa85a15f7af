package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * VFIO_USER_DEVICE_GET_INFO request and reply (struct vfio_device_info). In the request only argsz
 * is meaningful: the largest reply the client accepts.
 */
public record DeviceInfoPayload(int argsz, int flags, int numRegions, int numIrqs) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT_UNALIGNED.withName("argsz"),
            JAVA_INT_UNALIGNED.withName("flags"),
            JAVA_INT_UNALIGNED.withName("num_regions"),
            JAVA_INT_UNALIGNED.withName("num_irqs"));
    /** The device handles VFIO_USER_DEVICE_RESET. */
    public static final int FLAG_RESET = 0x1;
    /** The device is a PCI device: regions and IRQs follow the VFIO PCI indexes. */
    public static final int FLAG_PCI = 0x2;

    private static final VarHandle ARGSZ = Wire.field(LAYOUT, "argsz");
    private static final VarHandle FLAGS = Wire.field(LAYOUT, "flags");
    private static final VarHandle NUM_REGIONS = Wire.field(LAYOUT, "num_regions");
    private static final VarHandle NUM_IRQS = Wire.field(LAYOUT, "num_irqs");

    public static DeviceInfoPayload decode(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "DEVICE_GET_INFO");
        int argsz = (int) ARGSZ.get(payload);
        Wire.requireArgsz(argsz, LAYOUT, "DEVICE_GET_INFO");
        return new DeviceInfoPayload(argsz, (int) FLAGS.get(payload), (int) NUM_REGIONS.get(payload),
                (int) NUM_IRQS.get(payload));
    }

    public long encode(MemorySegment out) {
        ARGSZ.set(out, argsz);
        FLAGS.set(out, flags);
        NUM_REGIONS.set(out, numRegions);
        NUM_IRQS.set(out, numIrqs);
        return LAYOUT.byteSize();
    }
}

package io.umdev.vfiouser.protocol;

import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/** Helpers shared by the layout classes: field handles and size checks. */
final class Wire {
    private Wire() {
    }

    /** A handle on one named field of a layout, taking (segment, offset 0). */
    static VarHandle field(StructLayout layout, String name) {
        VarHandle handle = layout.varHandle(PathElement.groupElement(name));
        return MethodHandles.insertCoordinates(handle, 1, 0L);
    }

    /** A handle on one named field of a layout repeated in a buffer, taking (segment, base offset). */
    static VarHandle fieldAt(StructLayout layout, String name) {
        return layout.varHandle(PathElement.groupElement(name));
    }

    /** Fails unless the payload holds at least the fixed part described by {@code layout}. */
    static void requireAtLeast(MemorySegment payload, StructLayout layout, String what) throws ProtocolException {
        if (payload.byteSize() < layout.byteSize()) {
            throw ProtocolException.invalid("%s payload of %d bytes is shorter than its %d-byte structure",
                    what, payload.byteSize(), layout.byteSize());
        }
    }

    /** Fails unless {@code argsz} (unsigned) covers the fixed structure. */
    static void requireArgsz(int argsz, StructLayout layout, String what) throws ProtocolException {
        if (Integer.toUnsignedLong(argsz) < layout.byteSize()) {
            throw ProtocolException.invalid("%s argsz %d is smaller than its %d-byte structure",
                    what, Integer.toUnsignedLong(argsz), layout.byteSize());
        }
    }
}

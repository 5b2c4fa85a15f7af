package io.umdev.virtio.driver;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Little-endian field access, as virtio 1.x lays out every ring and config field. */
final class Le {
    static final ValueLayout.OfByte U8 = ValueLayout.JAVA_BYTE;
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Le() {
    }

    static int u8(MemorySegment s, long offset) {
        return Byte.toUnsignedInt(s.get(U8, offset));
    }

    static int u16(MemorySegment s, long offset) {
        return Short.toUnsignedInt(s.get(U16, offset));
    }

    static long u32(MemorySegment s, long offset) {
        return Integer.toUnsignedLong(s.get(U32, offset));
    }

    static long u64(MemorySegment s, long offset) {
        return s.get(U64, offset);
    }

    static void u8(MemorySegment s, long offset, int value) {
        s.set(U8, offset, (byte) value);
    }

    static void u16(MemorySegment s, long offset, int value) {
        s.set(U16, offset, (short) value);
    }

    static void u32(MemorySegment s, long offset, long value) {
        s.set(U32, offset, (int) value);
    }

    static void u64(MemorySegment s, long offset, long value) {
        s.set(U64, offset, value);
    }
}

package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Expected wire bytes written by hand, independently of the code under test: a little-endian
 * {@link ByteBuffer} filled at the offsets the specification's tables give.
 */
final class WireBytes {
    private WireBytes() {
    }

    /** A zeroed little-endian buffer of {@code size} bytes, for writing expected bytes at absolute offsets. */
    static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The whole buffer's bytes as a (heap) segment, for feeding a decoder. */
    static MemorySegment segment(ByteBuffer buffer) {
        return MemorySegment.ofArray(buffer.array().clone());
    }

    /** A zeroed segment of {@code size} bytes for an encoder to write into. */
    static MemorySegment zeroed(long size) {
        return MemorySegment.ofArray(new byte[Math.toIntExact(size)]);
    }

    /** The first {@code length} bytes of a segment. */
    static byte[] bytes(MemorySegment segment, long length) {
        return segment.asSlice(0, length).toArray(JAVA_BYTE);
    }

    static byte[] bytes(MemorySegment segment) {
        return segment.toArray(JAVA_BYTE);
    }

    static MemorySegment of(byte... bytes) {
        return MemorySegment.ofArray(bytes.clone());
    }
}

package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

/**
 * VFIO_USER_VERSION, request and reply alike: major, minor, then optional NUL-terminated JSON
 * capabilities.
 *
 * @param capabilities the JSON text without its NUL, or null when the message carries none
 */
public record VersionPayload(int major, int minor, String capabilities) {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_SHORT_UNALIGNED.withName("major"),
            JAVA_SHORT_UNALIGNED.withName("minor"));
    public static final int MAJOR = 0;
    public static final int MINOR = 0;

    private static final VarHandle MAJOR_FIELD = Wire.field(LAYOUT, "major");
    private static final VarHandle MINOR_FIELD = Wire.field(LAYOUT, "minor");
    private static final byte NUL = 0;

    public static VersionPayload decode(MemorySegment payload) throws ProtocolException {
        Wire.requireAtLeast(payload, LAYOUT, "VERSION");
        int major = Short.toUnsignedInt((short) MAJOR_FIELD.get(payload));
        int minor = Short.toUnsignedInt((short) MINOR_FIELD.get(payload));
        long jsonLength = payload.byteSize() - LAYOUT.byteSize();
        if (jsonLength == 0) {
            return new VersionPayload(major, minor, null);
        }
        MemorySegment json = payload.asSlice(LAYOUT.byteSize(), jsonLength);
        if (json.get(JAVA_BYTE, jsonLength - 1) != NUL) {
            throw ProtocolException.invalid("VERSION capabilities are not NUL-terminated");
        }
        byte[] text = json.asSlice(0, jsonLength - 1).toArray(JAVA_BYTE);
        return new VersionPayload(major, minor, new String(text, StandardCharsets.UTF_8));
    }

    /** Bytes this payload takes on the wire. */
    public long encodedSize() {
        return LAYOUT.byteSize() + (capabilities == null ? 0 : capabilities.getBytes(StandardCharsets.UTF_8).length + 1);
    }

    public long encode(MemorySegment out) {
        MAJOR_FIELD.set(out, (short) major);
        MINOR_FIELD.set(out, (short) minor);
        if (capabilities == null) {
            return LAYOUT.byteSize();
        }
        byte[] text = capabilities.getBytes(StandardCharsets.UTF_8);
        MemorySegment.copy(MemorySegment.ofArray(text), 0, out, LAYOUT.byteSize(), text.length);
        out.set(JAVA_BYTE, LAYOUT.byteSize() + text.length, NUL);
        return LAYOUT.byteSize() + text.length + 1;
    }
}

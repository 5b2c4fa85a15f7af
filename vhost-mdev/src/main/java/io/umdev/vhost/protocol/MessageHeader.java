package io.umdev.vhost.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.MemorySegment;

/** The 12-byte header of every vhost-user message: request, flags, payload size. */
public final class MessageHeader {
    public static final int SIZE = 12;
    public static final long REQUEST_OFFSET = 0;
    public static final long FLAGS_OFFSET = 4;
    public static final long SIZE_OFFSET = 8;

    /** The version field (flags bits 0-1); 1 is the only version. */
    public static final int VERSION_MASK = 0x3;
    public static final int VERSION = 0x1;
    /** Set on a reply. */
    public static final int FLAG_REPLY = 1 << 2;
    /** The front-end wants an acknowledgement (with REPLY_ACK). */
    public static final int FLAG_NEED_REPLY = 1 << 3;
    /** Flag bits this backend understands; any other makes the message malformed. */
    public static final int KNOWN_FLAGS = VERSION_MASK | FLAG_REPLY | FLAG_NEED_REPLY;

    private MessageHeader() {
    }

    public static int request(MemorySegment header) {
        return header.get(JAVA_INT_UNALIGNED, REQUEST_OFFSET);
    }

    public static int flags(MemorySegment header) {
        return header.get(JAVA_INT_UNALIGNED, FLAGS_OFFSET);
    }

    /** The payload size, unsigned. */
    public static long payloadSize(MemorySegment header) {
        return Integer.toUnsignedLong(header.get(JAVA_INT_UNALIGNED, SIZE_OFFSET));
    }

    public static void write(MemorySegment header, int request, int flags, int payloadSize) {
        header.set(JAVA_INT_UNALIGNED, REQUEST_OFFSET, request);
        header.set(JAVA_INT_UNALIGNED, FLAGS_OFFSET, flags);
        header.set(JAVA_INT_UNALIGNED, SIZE_OFFSET, payloadSize);
    }
}

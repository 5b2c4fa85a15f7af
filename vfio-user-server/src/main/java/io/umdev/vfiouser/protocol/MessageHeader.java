package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;

/**
 * The 16-byte header that starts every message, read and written in place. The size field counts
 * the whole message, header included. Error replies are header-only with flags REPLY|ERROR and a
 * positive errno.
 */
public final class MessageHeader {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_SHORT_UNALIGNED.withName("id"),
            JAVA_SHORT_UNALIGNED.withName("command"),
            JAVA_INT_UNALIGNED.withName("size"),
            JAVA_INT_UNALIGNED.withName("flags"),
            JAVA_INT_UNALIGNED.withName("error"));
    public static final int SIZE = (int) LAYOUT.byteSize();

    /** Flags bits 0-3: the message type. */
    public static final int TYPE_MASK = 0xf;
    public static final int TYPE_COMMAND = 0x0;
    public static final int TYPE_REPLY = 0x1;
    /** A command that wants no reply (QEMU posts memory-BAR writes this way). */
    public static final int NO_REPLY = 0x10;
    /** A reply reporting failure; the error field holds the errno. */
    public static final int ERROR = 0x20;
    /** Every flag bit the protocol defines; the rest are reserved. */
    public static final int KNOWN_FLAGS = TYPE_MASK | NO_REPLY | ERROR;

    private static final VarHandle ID = Wire.field(LAYOUT, "id");
    private static final VarHandle COMMAND = Wire.field(LAYOUT, "command");
    private static final VarHandle MESSAGE_SIZE = Wire.field(LAYOUT, "size");
    private static final VarHandle FLAGS = Wire.field(LAYOUT, "flags");
    private static final VarHandle ERROR_NO = Wire.field(LAYOUT, "error");

    private MessageHeader() {
    }

    public static int id(MemorySegment message) {
        return Short.toUnsignedInt((short) ID.get(message));
    }

    public static int command(MemorySegment message) {
        return Short.toUnsignedInt((short) COMMAND.get(message));
    }

    /** The whole message's size, unsigned. */
    public static long size(MemorySegment message) {
        return Integer.toUnsignedLong((int) MESSAGE_SIZE.get(message));
    }

    public static int flags(MemorySegment message) {
        return (int) FLAGS.get(message);
    }

    public static int error(MemorySegment message) {
        return (int) ERROR_NO.get(message);
    }

    public static boolean isReply(MemorySegment message) {
        return (flags(message) & TYPE_MASK) == TYPE_REPLY;
    }

    public static void write(MemorySegment message, int id, int command, long size, int flags, int error) {
        ID.set(message, (short) id);
        COMMAND.set(message, (short) command);
        MESSAGE_SIZE.set(message, (int) size);
        FLAGS.set(message, flags);
        ERROR_NO.set(message, error);
    }

    /** Sets the size of a message whose payload was written after its header. */
    public static void setSize(MemorySegment message, long size) {
        MESSAGE_SIZE.set(message, (int) size);
    }
}

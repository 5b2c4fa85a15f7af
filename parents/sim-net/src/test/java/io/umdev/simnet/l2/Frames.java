package io.umdev.simnet.l2;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;

/** Builds test frames: destination, source, EtherType and a payload of a recognisable pattern. */
final class Frames {
    static final int ETHERTYPE_TEST = 0x88b5; // IEEE local experimental

    private Frames() {
    }

    static MemorySegment frame(long destination, long source, int length, int seed) {
        MemorySegment frame = MemorySegment.ofArray(new byte[length]);
        Ethernet.putAddress(frame, Ethernet.DESTINATION_OFFSET, destination);
        Ethernet.putAddress(frame, Ethernet.SOURCE_OFFSET, source);
        frame.set(JAVA_BYTE, Ethernet.ETHERTYPE_OFFSET, (byte) (ETHERTYPE_TEST >>> 8));
        frame.set(JAVA_BYTE, Ethernet.ETHERTYPE_OFFSET + 1, (byte) ETHERTYPE_TEST);
        for (int i = Ethernet.HEADER_LENGTH; i < length; i++) {
            frame.set(JAVA_BYTE, i, (byte) (seed + i));
        }
        return frame;
    }

    static MemorySegment tagged(long destination, long source, int vid, int length) {
        MemorySegment frame = frame(destination, source, length, 0);
        frame.set(JAVA_BYTE, Ethernet.ETHERTYPE_OFFSET, (byte) (Ethernet.ETHERTYPE_VLAN >>> 8));
        frame.set(JAVA_BYTE, Ethernet.ETHERTYPE_OFFSET + 1, (byte) Ethernet.ETHERTYPE_VLAN);
        frame.set(JAVA_BYTE, Ethernet.TCI_OFFSET, (byte) (vid >>> 8));
        frame.set(JAVA_BYTE, Ethernet.TCI_OFFSET + 1, (byte) vid);
        return frame;
    }
}

package io.umdev.simnet.l2;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The Ethernet II frame facts the switch needs (IEEE 802.3 / 802.1Q), defined once, and readers of a
 * frame's addresses in place. A MAC address is carried as a {@code long} holding its 48 bits, first
 * octet most significant, so the data path compares addresses without allocating.
 */
public final class Ethernet {
    /** Octets in a MAC address. */
    public static final int ADDRESS_LENGTH = 6;
    public static final int DESTINATION_OFFSET = 0;
    public static final int SOURCE_OFFSET = 6;
    public static final int ETHERTYPE_OFFSET = 12;
    /** Destination, source and EtherType. */
    public static final int HEADER_LENGTH = 14;
    /** An 802.1Q tag (TPID and TCI) inserted before the EtherType. */
    public static final int VLAN_TAG_LENGTH = 4;
    /** The TPID that marks an 802.1Q tag. */
    public static final int ETHERTYPE_VLAN = 0x8100;
    /** Where the TCI of an 802.1Q tag sits. */
    public static final int TCI_OFFSET = 14;
    /** The VLAN ID bits of a TCI. */
    public static final int VLAN_ID_MASK = 0x0fff;
    /** How many VLAN IDs exist. */
    public static final int VLAN_IDS = 4096;
    /** The all-ones address. */
    public static final long BROADCAST = 0xffff_ffff_ffffL;
    /** The I/G bit of the first octet: set for group (multicast and broadcast) addresses. */
    public static final long GROUP_BIT = 1L << 40;
    /** The U/L bit of the first octet: set for locally administered addresses. */
    public static final long LOCAL_BIT = 1L << 41;
    /** The 48 bits of an address. */
    public static final long ADDRESS_MASK = (1L << 48) - 1;

    private static final ValueLayout.OfShort BE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private Ethernet() {
    }

    /** The address at {@code offset} of {@code segment}; six octets must be there. */
    public static long address(MemorySegment segment, long offset) {
        long high = Short.toUnsignedLong(segment.get(BE_SHORT, offset));
        long low = Integer.toUnsignedLong(segment.get(BE_INT, offset + 2));
        return (high << 32) | low;
    }

    /** Writes {@code mac} at {@code offset} of {@code segment}, first octet first. */
    public static void putAddress(MemorySegment segment, long offset, long mac) {
        segment.set(BE_SHORT, offset, (short) (mac >>> 32));
        segment.set(BE_INT, offset + 2, (int) mac);
    }

    /** The destination of a frame of at least {@link #HEADER_LENGTH} octets. */
    public static long destination(MemorySegment frame) {
        return address(frame, DESTINATION_OFFSET);
    }

    /** The source of a frame of at least {@link #HEADER_LENGTH} octets. */
    public static long source(MemorySegment frame) {
        return address(frame, SOURCE_OFFSET);
    }

    /** Whether {@code mac} is a group address (multicast, broadcast included). */
    public static boolean isGroup(long mac) {
        return (mac & GROUP_BIT) != 0;
    }

    /**
     * The VLAN ID of an 802.1Q-tagged frame, or -1 if the frame of {@code length} octets carries no tag.
     */
    public static int vlanId(MemorySegment frame, int length) {
        if (length < HEADER_LENGTH + VLAN_TAG_LENGTH
                || Short.toUnsignedInt(frame.get(BE_SHORT, ETHERTYPE_OFFSET)) != ETHERTYPE_VLAN) {
            return -1;
        }
        return frame.get(BE_SHORT, TCI_OFFSET) & VLAN_ID_MASK;
    }

    /** The largest frame a link of this MTU carries: header, optional 802.1Q tag and MTU octets of payload. */
    public static int maxFrameLength(int mtu) {
        return HEADER_LENGTH + VLAN_TAG_LENGTH + mtu;
    }

    /**
     * A hash of the address pair, the same for both directions of a conversation, to keep a flow on one
     * receive queue.
     */
    public static int flowHash(MemorySegment frame) {
        long pair = destination(frame) ^ source(frame);
        long mixed = pair * 0x9E37_79B9_7F4A_7C15L;
        return (int) (mixed >>> 32);
    }
}

package io.umdev.simnet.l2;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Which frames a virtio-net device accepts, after the receive-filter semantics of the virtio-net
 * control queue (RX, MAC and VLAN classes): its own address, the unicast and multicast address tables,
 * broadcast, and the promiscuous / all-multicast / all-unicast / no-multicast / no-unicast /
 * no-broadcast switches, plus the VLAN filter when the driver negotiated one.
 *
 * <p>Immutable: the control path builds a new filter per command and publishes it; the data path
 * reads one through a volatile field and tests frames without locking or allocating. A table given
 * more addresses than it holds overflows to accepting every address of that kind, as QEMU's does.
 */
public final class RxFilter {
    /** Addresses each table (unicast, multicast) holds; more overflow to accept-all for that kind. */
    public static final int TABLE_ENTRIES = 64;

    private static final long[] NONE = new long[0];
    private static final int VLAN_WORDS = Ethernet.VLAN_IDS / Long.SIZE;

    private final long mac;
    private final boolean promiscuous;
    private final boolean allMulticast;
    private final boolean allUnicast;
    private final boolean noMulticast;
    private final boolean noUnicast;
    private final boolean noBroadcast;
    private final long[] unicast;
    private final long[] multicast;
    private final boolean unicastOverflow;
    private final boolean multicastOverflow;
    /** Null when no VLAN filter is in force: tagged frames pass like untagged ones. */
    private final long[] vlans;

    private RxFilter(long mac, boolean promiscuous, boolean allMulticast, boolean allUnicast, boolean noMulticast,
            boolean noUnicast, boolean noBroadcast, long[] unicast, long[] multicast, boolean unicastOverflow,
            boolean multicastOverflow, long[] vlans) {
        this.mac = mac;
        this.promiscuous = promiscuous;
        this.allMulticast = allMulticast;
        this.allUnicast = allUnicast;
        this.noMulticast = noMulticast;
        this.noUnicast = noUnicast;
        this.noBroadcast = noBroadcast;
        this.unicast = unicast;
        this.multicast = multicast;
        this.unicastOverflow = unicastOverflow;
        this.multicastOverflow = multicastOverflow;
        this.vlans = vlans;
    }

    /**
     * The filter of a device after reset: its own address and broadcast, and all multicast (what
     * vdpa_sim_net accepts), until a driver with a control queue says otherwise. No VLAN filter.
     */
    public static RxFilter initial(long mac) {
        return new RxFilter(mac & Ethernet.ADDRESS_MASK, false, true, false, false, false, false, NONE, NONE, false,
                false, null);
    }

    /** Whether a frame of {@code length} bytes (at least an Ethernet header) passes. */
    public boolean accepts(MemorySegment frame, int length) {
        if (promiscuous) {
            return true;
        }
        if (vlans != null) {
            int vid = Ethernet.vlanId(frame, length);
            if (vid >= 0 && (vlans[vid >>> 6] & (1L << vid)) == 0) {
                return false;
            }
        }
        return acceptsDestination(Ethernet.destination(frame));
    }

    /** Whether the address test alone passes a frame sent to {@code destination}. */
    public boolean acceptsDestination(long destination) {
        if (promiscuous) {
            return true;
        }
        if (Ethernet.isGroup(destination)) {
            if (destination == Ethernet.BROADCAST) {
                return !noBroadcast;
            }
            if (noMulticast) {
                return false;
            }
            return allMulticast || multicastOverflow || contains(multicast, destination);
        }
        if (noUnicast) {
            return false;
        }
        return allUnicast || unicastOverflow || destination == mac || contains(unicast, destination);
    }

    private static boolean contains(long[] table, long address) {
        for (long entry : table) {
            if (entry == address) {
                return true;
            }
        }
        return false;
    }

    public long mac() {
        return mac;
    }

    public boolean promiscuous() {
        return promiscuous;
    }

    public boolean allMulticast() {
        return allMulticast;
    }

    public boolean allUnicast() {
        return allUnicast;
    }

    public boolean noMulticast() {
        return noMulticast;
    }

    public boolean noUnicast() {
        return noUnicast;
    }

    public boolean noBroadcast() {
        return noBroadcast;
    }

    /** Whether the unicast table was given more than {@link #TABLE_ENTRIES} addresses. */
    public boolean unicastOverflow() {
        return unicastOverflow;
    }

    public boolean multicastOverflow() {
        return multicastOverflow;
    }

    /** Whether a VLAN filter is in force (tagged frames must carry a member ID). */
    public boolean vlanFiltering() {
        return vlans != null;
    }

    /** Whether VLAN ID {@code vid} is in the VLAN filter; true for every ID while no filter is in force. */
    public boolean vlanAllowed(int vid) {
        return vlans == null || (vlans[vid >>> 6] & (1L << vid)) != 0;
    }

    public RxFilter withMac(long newMac) {
        return new RxFilter(newMac & Ethernet.ADDRESS_MASK, promiscuous, allMulticast, allUnicast, noMulticast,
                noUnicast, noBroadcast, unicast, multicast, unicastOverflow, multicastOverflow, vlans);
    }

    public RxFilter withPromiscuous(boolean on) {
        return new RxFilter(mac, on, allMulticast, allUnicast, noMulticast, noUnicast, noBroadcast, unicast,
                multicast, unicastOverflow, multicastOverflow, vlans);
    }

    public RxFilter withAllMulticast(boolean on) {
        return new RxFilter(mac, promiscuous, on, allUnicast, noMulticast, noUnicast, noBroadcast, unicast,
                multicast, unicastOverflow, multicastOverflow, vlans);
    }

    public RxFilter withAllUnicast(boolean on) {
        return new RxFilter(mac, promiscuous, allMulticast, on, noMulticast, noUnicast, noBroadcast, unicast,
                multicast, unicastOverflow, multicastOverflow, vlans);
    }

    public RxFilter withNoMulticast(boolean on) {
        return new RxFilter(mac, promiscuous, allMulticast, allUnicast, on, noUnicast, noBroadcast, unicast,
                multicast, unicastOverflow, multicastOverflow, vlans);
    }

    public RxFilter withNoUnicast(boolean on) {
        return new RxFilter(mac, promiscuous, allMulticast, allUnicast, noMulticast, on, noBroadcast, unicast,
                multicast, unicastOverflow, multicastOverflow, vlans);
    }

    public RxFilter withNoBroadcast(boolean on) {
        return new RxFilter(mac, promiscuous, allMulticast, allUnicast, noMulticast, noUnicast, on, unicast,
                multicast, unicastOverflow, multicastOverflow, vlans);
    }

    /**
     * Replaces both address tables (the MAC TABLE_SET command). A table of more than
     * {@link #TABLE_ENTRIES} addresses is not kept: it overflows to accepting every address of its kind.
     */
    public RxFilter withTables(long[] newUnicast, long[] newMulticast) {
        boolean uniOver = newUnicast.length > TABLE_ENTRIES;
        boolean multiOver = newMulticast.length > TABLE_ENTRIES;
        return new RxFilter(mac, promiscuous, allMulticast, allUnicast, noMulticast, noUnicast, noBroadcast,
                uniOver ? NONE : newUnicast.clone(), multiOver ? NONE : newMulticast.clone(), uniOver, multiOver,
                vlans);
    }

    /** Turns the VLAN filter on, empty (the driver negotiated VLAN filtering), or off. */
    public RxFilter withVlanFiltering(boolean on) {
        return new RxFilter(mac, promiscuous, allMulticast, allUnicast, noMulticast, noUnicast, noBroadcast, unicast,
                multicast, unicastOverflow, multicastOverflow, on ? new long[VLAN_WORDS] : null);
    }

    /** Adds or removes VLAN ID {@code vid} (0..4095) from the filter, turning it on if it was off. */
    public RxFilter withVlan(int vid, boolean member) {
        if (vid < 0 || vid >= Ethernet.VLAN_IDS) {
            throw new IllegalArgumentException("a VLAN ID is 0..4095: " + vid);
        }
        long[] copy = vlans == null ? new long[VLAN_WORDS] : vlans.clone();
        if (member) {
            copy[vid >>> 6] |= 1L << vid;
        } else {
            copy[vid >>> 6] &= ~(1L << vid);
        }
        return new RxFilter(mac, promiscuous, allMulticast, allUnicast, noMulticast, noUnicast, noBroadcast, unicast,
                multicast, unicastOverflow, multicastOverflow, copy);
    }

    public long[] unicastTable() {
        return unicast.clone();
    }

    public long[] multicastTable() {
        return multicast.clone();
    }

    @Override
    public String toString() {
        return "RxFilter[mac=" + Long.toHexString(mac) + (promiscuous ? " promisc" : "")
                + (allMulticast ? " allmulti" : "") + (allUnicast ? " alluni" : "") + (noMulticast ? " nomulti" : "")
                + (noUnicast ? " nouni" : "") + (noBroadcast ? " nobcast" : "") + " uc=" + Arrays.toString(unicast)
                + (unicastOverflow ? "+overflow" : "") + " mc=" + Arrays.toString(multicast)
                + (multicastOverflow ? "+overflow" : "") + (vlans != null ? " vlan-filter" : "") + "]";
    }
}

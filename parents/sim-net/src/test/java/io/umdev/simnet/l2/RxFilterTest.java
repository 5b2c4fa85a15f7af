package io.umdev.simnet.l2;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RxFilterTest {
    private static final long OWN = 0x02_00_00_00_00_01L;
    private static final long OTHER = 0x02_00_00_00_00_02L;
    private static final long GROUP = 0x01_00_5e_00_00_01L;
    private static final long IPV6_GROUP = 0x33_33_00_00_00_01L;

    @Test
    void initiallyAcceptsItsOwnAddressBroadcastAndMulticastOnly() {
        RxFilter filter = RxFilter.initial(OWN);
        assertTrue(filter.acceptsDestination(OWN));
        assertTrue(filter.acceptsDestination(Ethernet.BROADCAST));
        assertTrue(filter.acceptsDestination(GROUP));
        assertFalse(filter.acceptsDestination(OTHER));
    }

    @Test
    void promiscuousAcceptsEverything() {
        RxFilter filter = RxFilter.initial(OWN).withPromiscuous(true).withNoBroadcast(true).withVlan(7, true);
        assertTrue(filter.acceptsDestination(OTHER));
        assertTrue(filter.accepts(Frames.tagged(OTHER, OWN, 8, 64), 64));
    }

    @Test
    void multicastFollowsAllMulticastAndTheTable() {
        RxFilter filter = RxFilter.initial(OWN).withAllMulticast(false);
        assertFalse(filter.acceptsDestination(GROUP));
        filter = filter.withTables(new long[0], new long[] {IPV6_GROUP});
        assertTrue(filter.acceptsDestination(IPV6_GROUP));
        assertFalse(filter.acceptsDestination(GROUP));
        assertTrue(filter.acceptsDestination(Ethernet.BROADCAST));
        assertTrue(filter.withAllMulticast(true).acceptsDestination(GROUP));
        assertFalse(filter.withAllMulticast(true).withNoMulticast(true).acceptsDestination(GROUP));
    }

    @Test
    void unicastTableAndAllUnicastAndNoUnicast() {
        RxFilter filter = RxFilter.initial(OWN).withTables(new long[] {OTHER}, new long[0]);
        assertTrue(filter.acceptsDestination(OTHER));
        assertFalse(filter.acceptsDestination(OTHER + 1));
        assertTrue(filter.withAllUnicast(true).acceptsDestination(OTHER + 1));
        assertFalse(filter.withNoUnicast(true).acceptsDestination(OWN));
    }

    @Test
    void anOverfullTableAcceptsEveryAddressOfItsKind() {
        long[] many = new long[RxFilter.TABLE_ENTRIES + 1];
        for (int i = 0; i < many.length; i++) {
            many[i] = OTHER + 0x100 + i;
        }
        RxFilter filter = RxFilter.initial(OWN).withAllMulticast(false).withTables(many, new long[0]);
        assertTrue(filter.unicastOverflow());
        assertTrue(filter.acceptsDestination(0x02_aa_bb_cc_dd_eeL));
        assertFalse(filter.acceptsDestination(GROUP));
    }

    @Test
    void noBroadcastRefusesBroadcast() {
        assertFalse(RxFilter.initial(OWN).withNoBroadcast(true).acceptsDestination(Ethernet.BROADCAST));
    }

    @Test
    void vlanFilterPassesMembersAndUntaggedFrames() {
        RxFilter filter = RxFilter.initial(OWN).withVlanFiltering(true).withVlan(100, true);
        assertTrue(filter.accepts(Frames.tagged(OWN, OTHER, 100, 64), 64));
        assertFalse(filter.accepts(Frames.tagged(OWN, OTHER, 101, 64), 64));
        assertTrue(filter.accepts(Frames.frame(OWN, OTHER, 64, 0), 64));
        assertFalse(filter.withVlan(100, false).accepts(Frames.tagged(OWN, OTHER, 100, 64), 64));
        assertTrue(RxFilter.initial(OWN).accepts(Frames.tagged(OWN, OTHER, 101, 64), 64));
    }
}

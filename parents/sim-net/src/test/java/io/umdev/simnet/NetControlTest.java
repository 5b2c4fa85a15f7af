package io.umdev.simnet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.simnet.l2.Ethernet;
import io.umdev.simnet.l2.RxFilter;
import io.umdev.virtio.spec.NetSpec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class NetControlTest {
    private static final long OWN = 0x02_00_00_00_00_01L;
    private static final long OTHER = 0x02_00_00_00_00_02L;
    private static final long GROUP = 0x01_00_5e_00_00_fbL;
    private static final long ALL = (1L << NetSpec.F_CTRL_RX) | (1L << NetSpec.F_CTRL_RX_EXTRA)
            | (1L << NetSpec.F_CTRL_VLAN) | (1L << NetSpec.F_CTRL_MAC_ADDR) | (1L << NetSpec.F_MQ)
            | (1L << NetSpec.F_CTRL_VQ);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final NetControl control = new NetControl("test", 4);
    private final State state = new State();

    private static final class State implements NetControl.Target {
        RxFilter filter = RxFilter.initial(OWN);
        long mac = OWN;
        int pairs = 1;

        @Override
        public RxFilter filter() {
            return filter;
        }

        @Override
        public void setFilter(RxFilter newFilter) {
            filter = newFilter;
        }

        @Override
        public void setMac(long newMac) {
            mac = newMac;
        }

        @Override
        public void setQueuePairs(int newPairs) {
            pairs = newPairs;
        }
    }

    private static MemorySegment command(int commandClass, int code, int dataLength) {
        MemorySegment command = MemorySegment.ofArray(new byte[NetSpec.CTRL_HDR_SIZE + dataLength]);
        command.set(ValueLayout.JAVA_BYTE, NetSpec.CTRL_HDR_CLASS, (byte) commandClass);
        command.set(ValueLayout.JAVA_BYTE, NetSpec.CTRL_HDR_COMMAND, (byte) code);
        return command;
    }

    private int run(MemorySegment command, long features) {
        return control.execute(command, (int) command.byteSize(), features, state);
    }

    private int rx(int code, boolean on, long features) {
        MemorySegment command = command(NetSpec.CTRL_RX, code, 1);
        command.set(ValueLayout.JAVA_BYTE, NetSpec.CTRL_HDR_SIZE, (byte) (on ? 1 : 0));
        return run(command, features);
    }

    private static MemorySegment tableSet(long[] unicast, long[] multicast) {
        int size = 2 * NetSpec.CTRL_MAC_TABLE_ENTRIES_SIZE + Ethernet.ADDRESS_LENGTH * (unicast.length + multicast.length);
        MemorySegment command = command(NetSpec.CTRL_MAC, NetSpec.CTRL_MAC_TABLE_SET, size);
        long at = NetSpec.CTRL_HDR_SIZE;
        for (long[] table : new long[][] {unicast, multicast}) {
            command.set(LE32, at, table.length);
            at += NetSpec.CTRL_MAC_TABLE_ENTRIES_SIZE;
            for (long mac : table) {
                Ethernet.putAddress(command, at, mac);
                at += Ethernet.ADDRESS_LENGTH;
            }
        }
        return command;
    }

    @Test
    void promiscuousAndAllMulticastAreSwitchedOnAndOff() {
        assertEquals(NetSpec.CTRL_OK, rx(NetSpec.CTRL_RX_PROMISC, true, ALL));
        assertTrue(state.filter.promiscuous());
        assertEquals(NetSpec.CTRL_OK, rx(NetSpec.CTRL_RX_PROMISC, false, ALL));
        assertFalse(state.filter.promiscuous());
        assertEquals(NetSpec.CTRL_OK, rx(NetSpec.CTRL_RX_ALLMULTI, false, ALL));
        assertFalse(state.filter.acceptsDestination(GROUP));
    }

    @Test
    void rxExtraCommandsNeedTheirFeature() {
        long withoutExtra = ALL & ~(1L << NetSpec.F_CTRL_RX_EXTRA);
        assertEquals(NetSpec.CTRL_ERR, rx(NetSpec.CTRL_RX_NOBCAST, true, withoutExtra));
        assertFalse(state.filter.noBroadcast());
        assertEquals(NetSpec.CTRL_OK, rx(NetSpec.CTRL_RX_NOBCAST, true, ALL));
        assertTrue(state.filter.noBroadcast());
        assertEquals(NetSpec.CTRL_OK, rx(NetSpec.CTRL_RX_ALLUNI, true, ALL));
        assertTrue(state.filter.acceptsDestination(OTHER));
    }

    @Test
    void rxClassWithoutCtrlRxIsRefused() {
        assertEquals(NetSpec.CTRL_ERR, rx(NetSpec.CTRL_RX_PROMISC, true, 1L << NetSpec.F_CTRL_VQ));
        assertFalse(state.filter.promiscuous());
    }

    @Test
    void rxCommandWithWrongDataLengthIsRefused() {
        MemorySegment command = command(NetSpec.CTRL_RX, NetSpec.CTRL_RX_PROMISC, 2);
        command.set(ValueLayout.JAVA_BYTE, NetSpec.CTRL_HDR_SIZE, (byte) 1);
        assertEquals(NetSpec.CTRL_ERR, run(command, ALL));
        assertFalse(state.filter.promiscuous());
    }

    @Test
    void macAddressSetChangesTheStationAddress() {
        MemorySegment command = command(NetSpec.CTRL_MAC, NetSpec.CTRL_MAC_ADDR_SET, Ethernet.ADDRESS_LENGTH);
        Ethernet.putAddress(command, NetSpec.CTRL_HDR_SIZE, OTHER);
        assertEquals(NetSpec.CTRL_OK, run(command, ALL));
        assertEquals(OTHER, state.mac);
        assertTrue(state.filter.acceptsDestination(OTHER));
        assertFalse(state.filter.acceptsDestination(OWN));
    }

    @Test
    void macAddressSetRefusesAGroupAddressAndAMissingFeature() {
        MemorySegment command = command(NetSpec.CTRL_MAC, NetSpec.CTRL_MAC_ADDR_SET, Ethernet.ADDRESS_LENGTH);
        Ethernet.putAddress(command, NetSpec.CTRL_HDR_SIZE, GROUP);
        assertEquals(NetSpec.CTRL_ERR, run(command, ALL));
        Ethernet.putAddress(command, NetSpec.CTRL_HDR_SIZE, OTHER);
        assertEquals(NetSpec.CTRL_ERR, run(command, ALL & ~(1L << NetSpec.F_CTRL_MAC_ADDR)));
        assertEquals(OWN, state.mac);
    }

    @Test
    void macTableSetInstallsBothTables() {
        assertEquals(NetSpec.CTRL_OK, rx(NetSpec.CTRL_RX_ALLMULTI, false, ALL));
        assertEquals(NetSpec.CTRL_OK, run(tableSet(new long[] {OTHER}, new long[] {GROUP}), ALL));
        assertTrue(state.filter.acceptsDestination(OTHER));
        assertTrue(state.filter.acceptsDestination(GROUP));
        assertFalse(state.filter.acceptsDestination(GROUP + 1));
        assertEquals(NetSpec.CTRL_OK, run(tableSet(new long[0], new long[0]), ALL));
        assertFalse(state.filter.acceptsDestination(OTHER));
    }

    @Test
    void macTableSetWithCountsThatDoNotMatchItsSizeIsRefused() {
        MemorySegment command = tableSet(new long[] {OTHER}, new long[] {GROUP});
        command.set(LE32, NetSpec.CTRL_HDR_SIZE, 1000);
        assertEquals(NetSpec.CTRL_ERR, run(command, ALL));
        MemorySegment trailing = tableSet(new long[] {OTHER}, new long[] {GROUP});
        assertEquals(NetSpec.CTRL_ERR, control.execute(trailing, (int) trailing.byteSize() - 1, ALL, state));
        MemorySegment overlong = command(NetSpec.CTRL_MAC, NetSpec.CTRL_MAC_TABLE_SET, 9);
        assertEquals(NetSpec.CTRL_ERR, run(overlong, ALL));
        assertFalse(state.filter.acceptsDestination(OTHER));
    }

    @Test
    void vlanAddAndDeleteMaintainTheFilter() {
        state.filter = state.filter.withVlanFiltering(true);
        MemorySegment add = command(NetSpec.CTRL_VLAN, NetSpec.CTRL_VLAN_ADD, Short.BYTES);
        add.set(LE16, NetSpec.CTRL_HDR_SIZE, (short) 42);
        assertEquals(NetSpec.CTRL_OK, run(add, ALL));
        assertTrue(state.filter.vlanAllowed(42));
        MemorySegment delete = command(NetSpec.CTRL_VLAN, NetSpec.CTRL_VLAN_DEL, Short.BYTES);
        delete.set(LE16, NetSpec.CTRL_HDR_SIZE, (short) 42);
        assertEquals(NetSpec.CTRL_OK, run(delete, ALL));
        assertFalse(state.filter.vlanAllowed(42));
        add.set(LE16, NetSpec.CTRL_HDR_SIZE, (short) 4096);
        assertEquals(NetSpec.CTRL_ERR, run(add, ALL));
    }

    @Test
    void queuePairsAreSetWithinTheOfferedRange() {
        MemorySegment set = command(NetSpec.CTRL_MQ, NetSpec.CTRL_MQ_VQ_PAIRS_SET, Short.BYTES);
        set.set(LE16, NetSpec.CTRL_HDR_SIZE, (short) 3);
        assertEquals(NetSpec.CTRL_OK, run(set, ALL));
        assertEquals(3, state.pairs);
        set.set(LE16, NetSpec.CTRL_HDR_SIZE, (short) 5);
        assertEquals(NetSpec.CTRL_ERR, run(set, ALL));
        set.set(LE16, NetSpec.CTRL_HDR_SIZE, (short) 0);
        assertEquals(NetSpec.CTRL_ERR, run(set, ALL));
        set.set(LE16, NetSpec.CTRL_HDR_SIZE, (short) 2);
        assertEquals(NetSpec.CTRL_ERR, run(set, ALL & ~(1L << NetSpec.F_MQ)));
        assertEquals(3, state.pairs);
    }

    @Test
    void unknownClassesCommandsAndShortCommandsAreRefused() {
        assertEquals(NetSpec.CTRL_ERR, run(command(NetSpec.CTRL_GUEST_OFFLOADS, 0, 8), ALL));
        assertEquals(NetSpec.CTRL_ERR, run(command(NetSpec.CTRL_ANNOUNCE, NetSpec.CTRL_ANNOUNCE_ACK, 0), ALL));
        assertEquals(NetSpec.CTRL_ERR, run(command(NetSpec.CTRL_MQ, NetSpec.CTRL_MQ_RSS_CONFIG, 2), ALL));
        assertEquals(NetSpec.CTRL_ERR, run(command(200, 0, 0), ALL));
        assertEquals(NetSpec.CTRL_ERR, control.execute(command(NetSpec.CTRL_RX, 0, 0), 1, ALL, state));
    }
}

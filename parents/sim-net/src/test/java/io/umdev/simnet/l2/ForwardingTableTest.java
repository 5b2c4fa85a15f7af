package io.umdev.simnet.l2;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ForwardingTableTest {
    private static final long A = 0x02_00_00_00_00_0aL;
    private static final long B = 0x02_00_00_00_00_0bL;

    @Test
    void learnsAnAddressAndMovesItWhenSeenOnAnotherPort() {
        ForwardingTable table = new ForwardingTable(64, 1000);
        assertEquals(ForwardingTable.UNKNOWN, table.lookup(A, 0));
        table.learn(A, 3, 0);
        assertEquals(3, table.lookup(A, 10));
        table.learn(A, 5, 20);
        assertEquals(5, table.lookup(A, 30));
        assertEquals(1, table.size(30));
    }

    @Test
    void forgetsAnAddressAfterTheAgeingTime() {
        ForwardingTable table = new ForwardingTable(64, 1000);
        table.learn(A, 1, 0);
        assertEquals(1, table.lookup(A, 999));
        assertEquals(ForwardingTable.UNKNOWN, table.lookup(A, 1000));
        assertEquals(0, table.size(1000));
    }

    @Test
    void aFrameSeenAgainKeepsTheEntryAlive() {
        ForwardingTable table = new ForwardingTable(64, 5000);
        table.learn(A, 1, 0);
        table.learn(A, 1, 4000);
        assertEquals(1, table.lookup(A, 8000));
    }

    @Test
    void reusesSlotsOfAgedEntries() {
        ForwardingTable table = new ForwardingTable(16, 100);
        for (int i = 0; i < 16; i++) {
            table.learn(A + i, i, 0);
        }
        assertEquals(16, table.size(0));
        for (int i = 0; i < 16; i++) {
            table.learn(B + 0x100 + i, i, 200);
        }
        for (int i = 0; i < 16; i++) {
            assertEquals(i, table.lookup(B + 0x100 + i, 200));
            assertEquals(ForwardingTable.UNKNOWN, table.lookup(A + i, 200));
        }
    }

    @Test
    void forgettingAPortForgetsOnlyItsAddresses() {
        ForwardingTable table = new ForwardingTable(64, 1000);
        table.learn(A, 1, 0);
        table.learn(B, 2, 0);
        table.forgetPort(1);
        assertEquals(ForwardingTable.UNKNOWN, table.lookup(A, 0));
        assertEquals(2, table.lookup(B, 0));
        table.learn(A, 4, 1);
        assertEquals(4, table.lookup(A, 1));
    }
}

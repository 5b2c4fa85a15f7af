package io.umdev.simnet.l2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class LearningSwitchTest {
    private static final long MAC_A = 0x02_00_00_00_00_0aL;
    private static final long MAC_B = 0x02_00_00_00_00_0bL;
    private static final long MAC_C = 0x02_00_00_00_00_0cL;
    private static final int MTU = 1500;
    private static final long AGING_MILLIS = 10_000;

    private final AtomicLong clockNanos = new AtomicLong();
    private LearningSwitch fabric;
    private final List<String> wakes = new ArrayList<>();

    @BeforeEach
    void makeSwitch() {
        fabric = new LearningSwitch("test", AGING_MILLIS, clockNanos::get);
    }

    private Port port(String name, long mac, int slots) {
        Port port = new Port(name, 1, slots, MTU, false, RxFilter.initial(mac), pair -> wakes.add(name));
        port.setReceiving(true);
        fabric.attach(port);
        return port;
    }

    private static int drain(Port port) {
        return port.mailbox(0).clear();
    }

    private static void send(Port from, long destination, long source) {
        MemorySegment frame = Frames.frame(destination, source, 64, 1);
        from.transmit(frame, 64);
    }

    @Test
    void broadcastFloodsToEveryOtherPortAndTeachesTheSource() {
        Port a = port("a", MAC_A, 16);
        Port b = port("b", MAC_B, 16);
        Port c = port("c", MAC_C, 16);
        send(a, Ethernet.BROADCAST, MAC_A);
        assertEquals(0, drain(a));
        assertEquals(1, drain(b));
        assertEquals(1, drain(c));
        assertEquals(1, fabric.flooded());
        assertEquals(a.attachedTo(), fabric);
        assertEquals(0, fabric.portOf(MAC_A));
        assertEquals(List.of("b", "c"), wakes);
    }

    @Test
    void unicastToALearnedAddressGoesToThatPortOnly() {
        Port a = port("a", MAC_A, 16);
        Port b = port("b", MAC_B, 16);
        Port c = port("c", MAC_C, 16);
        c.setFilter(c.filter().withPromiscuous(true)); // would see a flooded frame
        send(b, Ethernet.BROADCAST, MAC_B);
        drain(a);
        drain(c);
        send(a, MAC_B, MAC_A);
        assertEquals(1, drain(b));
        assertEquals(0, drain(c));
        assertEquals(1, fabric.unicastForwarded());
    }

    @Test
    void unknownUnicastIsFloodedAndTheFilterKeepsItFromOthers() {
        Port a = port("a", MAC_A, 16);
        Port b = port("b", MAC_B, 16);
        Port c = port("c", MAC_C, 16);
        send(a, MAC_B, MAC_A); // B not learned yet
        assertEquals(1, fabric.flooded());
        assertEquals(1, drain(b));
        assertEquals(0, drain(c));
        assertEquals(1, c.filtered());
    }

    @Test
    void learnedAddressesAgeOutAndAreFloodedAgain() {
        Port a = port("a", MAC_A, 16);
        Port b = port("b", MAC_B, 16);
        send(b, Ethernet.BROADCAST, MAC_B);
        drain(a);
        assertEquals(1, fabric.learnedAddresses());
        clockNanos.addAndGet((AGING_MILLIS + 1) * 1_000_000);
        assertEquals(0, fabric.learnedAddresses());
        send(a, MAC_B, MAC_A);
        assertEquals(2, fabric.flooded());
        assertEquals(1, drain(b));
    }

    @Test
    void aFullMailboxDropsAndCountsWithoutBlockingTheSender() {
        Port a = port("a", MAC_A, 4);
        Port b = port("b", MAC_B, 4);
        for (int i = 0; i < 10; i++) {
            send(a, MAC_B, MAC_A);
        }
        assertEquals(4, b.delivered());
        assertEquals(6, b.mailboxDrops());
        assertEquals(4, drain(b));
        send(a, MAC_B, MAC_A);
        assertEquals(1, drain(b));
    }

    @Test
    void aFrameAboveTheReceiversMtuIsDroppedAndCounted() {
        Port a = new Port("a", 1, 4, 9000, false, RxFilter.initial(MAC_A), pair -> { });
        a.setReceiving(true);
        fabric.attach(a);
        Port b = port("b", MAC_B, 4);
        int jumbo = Ethernet.maxFrameLength(MTU) + 1;
        a.transmit(Frames.frame(MAC_B, MAC_A, jumbo, 0), jumbo);
        assertEquals(1, b.oversizeDrops());
        assertEquals(0, drain(b));
    }

    @Test
    void aDetachedPortNoLongerReceivesAndItsAddressesAreForgotten() {
        Port a = port("a", MAC_A, 16);
        Port b = port("b", MAC_B, 16);
        send(b, Ethernet.BROADCAST, MAC_B);
        fabric.detach(b);
        drain(a);
        assertEquals(ForwardingTable.UNKNOWN, fabric.portOf(MAC_B));
        send(a, Ethernet.BROADCAST, MAC_A);
        assertEquals(0, drain(b));
        assertEquals(1, fabric.portCount());
        Port c = port("c", MAC_C, 16);
        send(a, Ethernet.BROADCAST, MAC_A);
        assertEquals(1, drain(c));
    }

    @Test
    void aPortNotReceivingDropsAtTheDoor() {
        Port a = port("a", MAC_A, 16);
        Port b = port("b", MAC_B, 16);
        b.setReceiving(false);
        send(a, MAC_B, MAC_A);
        assertEquals(1, b.notReceivingDrops());
        assertEquals(0, drain(b));
    }

    @Test
    void loopbackReturnsFramesToTheSenderSubjectToItsFilter() {
        Port loop = new Port("loop", 1, 8, MTU, true, RxFilter.initial(MAC_A), pair -> { });
        loop.setReceiving(true);
        loop.transmit(Frames.frame(MAC_A, MAC_B, 64, 0), 64);
        loop.transmit(Frames.frame(MAC_C, MAC_B, 64, 0), 64);
        assertEquals(1, loop.delivered());
        assertEquals(1, loop.filtered());
    }

    @Test
    void switchesByNameKeepInstancesApart() {
        Switches switches = new Switches();
        Port a = new Port("a", 1, 8, MTU, false, RxFilter.initial(MAC_A), pair -> { });
        Port b = new Port("b", 1, 8, MTU, false, RxFilter.initial(MAC_B), pair -> { });
        Port c = new Port("c", 1, 8, MTU, false, RxFilter.initial(MAC_C), pair -> { });
        for (Port p : List.of(a, b, c)) {
            p.setReceiving(true);
        }
        switches.attach("one", a);
        switches.attach("one", b);
        switches.attach("two", c);
        send(a, Ethernet.BROADCAST, MAC_A);
        assertEquals(1, b.delivered());
        assertEquals(0, c.delivered());
        assertEquals(2, switches.count());
        switches.detach(c);
        assertEquals(1, switches.count());
        assertTrue(switches.get("two").isEmpty());
    }

    @Test
    void aFullSwitchRefusesAnotherPort() {
        Switches switches = new Switches();
        for (int i = 0; i < LearningSwitch.MAX_PORTS; i++) {
            switches.attach("full", new Port("p" + i, 1, 1, 68, false, RxFilter.initial(MAC_A + i), pair -> { }));
        }
        assertTrue(switches.isFull("full"));
        Port extra = new Port("extra", 1, 1, 68, false, RxFilter.initial(MAC_C), pair -> { });
        assertThrows(IllegalStateException.class, () -> switches.attach("full", extra));
        assertEquals(null, extra.attachedTo());
        assertTrue(!switches.isFull("other"));
    }

    @Test
    void framesSpreadOverActivePairsByFlow() {
        Port a = port("a", MAC_A, 16);
        Port b = new Port("b", 4, 16, MTU, false, RxFilter.initial(MAC_B).withPromiscuous(true), pair -> { });
        b.setReceiving(true);
        fabric.attach(b);
        b.setActivePairs(4);
        for (int i = 0; i < 64; i++) {
            send(a, MAC_B + 0x100 + i, MAC_A);
        }
        int used = 0;
        for (int pair = 0; pair < 4; pair++) {
            if (b.mailbox(pair).size() > 0) {
                used++;
            }
        }
        assertTrue(used > 1, "64 flows all landed on one pair");
        b.setActivePairs(1);
        for (int pair = 0; pair < 4; pair++) {
            b.mailbox(pair).clear();
        }
        send(a, MAC_B + 0x200, MAC_A);
        assertEquals(1, b.mailbox(0).size());
    }
}

package io.umdev.simnet;

import static io.umdev.simnet.SimNetFixture.frame;
import static io.umdev.simnet.SimNetFixture.mac;
import static io.umdev.simnet.SimNetFixture.receive;
import static io.umdev.simnet.SimNetFixture.stat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.mdev.MdevInstance;
import io.umdev.simnet.l2.Ethernet;
import io.umdev.simnet.l2.ForwardingTable;
import io.umdev.simnet.l2.LearningSwitch;
import io.umdev.virtio.driver.VirtioNetPort;
import io.umdev.virtio.spec.NetSpec;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SwitchModeTest {
    private SimNetFixture fixture;
    private final MemorySegment received = MemorySegment.ofArray(new byte[2048]);

    @BeforeEach
    void create() throws Exception {
        fixture = new SimNetFixture();
    }

    @AfterEach
    void close() throws Exception {
        fixture.close();
    }

    @Test
    void twoInstancesExchangeABroadcastThenLearnedUnicastBothWays() throws Exception {
        MdevInstance a = fixture.create(SimNetSettings.SWITCH, "lan");
        MdevInstance b = fixture.create(SimNetSettings.SWITCH, "lan");
        MdevInstance c = fixture.create(SimNetSettings.SWITCH, "elsewhere");
        VirtioNetPort portA = fixture.open(a);
        VirtioNetPort portB = fixture.open(b);
        VirtioNetPort portC = fixture.open(c);
        portC.setPromiscuous(true);
        long macA = mac(portA);
        long macB = mac(portB);

        // A asks who has B (an ARP-like broadcast); B answers A by unicast; A then talks to B directly.
        MemorySegment request = frame(Ethernet.BROADCAST, macA, 60, 1);
        assertTrue(portA.send(0, request));
        assertEquals(60, receive(portB, 0, received));
        assertEquals(-1, request.mismatch(received.asSlice(0, 60)));
        MemorySegment reply = frame(macA, macB, 60, 2);
        assertTrue(portB.send(0, reply));
        assertEquals(60, receive(portA, 0, received));
        assertEquals(-1, reply.mismatch(received.asSlice(0, 60)));
        for (int i = 0; i < 50; i++) {
            MemorySegment data = frame(macB, macA, 100 + i * 20, i);
            assertTrue(portA.send(0, data));
            assertEquals(100 + i * 20, receive(portB, 0, received));
            assertEquals(-1, data.mismatch(received.asSlice(0, 100 + i * 20)));
        }

        // B has every frame, but A's device may not have completed (and counted) the last ones yet.
        SimNetFixture.awaitTransmitted(portA, 0);
        SimNetFixture.awaitTransmitted(portB, 0);
        LearningSwitch lan = fixture.switches.get("lan").orElseThrow();
        assertTrue(lan.portOf(macA) != ForwardingTable.UNKNOWN && lan.portOf(macB) != ForwardingTable.UNKNOWN);
        assertEquals(1, lan.flooded());
        assertEquals(51, lan.unicastForwarded());
        assertEquals(51, stat(a, "tx0.packets"));
        assertEquals(1, stat(a, "rx0.packets"));
        assertEquals(60 + NetSpec.HDR_SIZE, stat(a, "rx0.bytes"));
        assertEquals(1, stat(b, "tx0.packets"));
        assertEquals(51, stat(b, "rx0.packets"));
        // The instance on another switch, though promiscuous, saw nothing.
        assertEquals(0, stat(c, "port.delivered"));
        assertEquals(0, stat(c, "rx0.packets"));
    }

    @Test
    void learnedUnicastReachesOnlyItsDestination() throws Exception {
        MdevInstance a = fixture.create();
        MdevInstance b = fixture.create();
        MdevInstance snoop = fixture.create();
        VirtioNetPort portA = fixture.open(a);
        VirtioNetPort portB = fixture.open(b);
        VirtioNetPort portSnoop = fixture.open(snoop);
        portSnoop.setPromiscuous(true);
        long macA = mac(portA);
        long macB = mac(portB);
        assertTrue(portB.send(0, frame(Ethernet.BROADCAST, macB, 60, 1))); // B is learned
        receive(portA, 0, received);
        receive(portSnoop, 0, received);
        assertTrue(portA.send(0, frame(macB, macA, 80, 2)));
        assertEquals(80, receive(portB, 0, received));
        assertEquals(1, stat(snoop, "port.delivered"), "the snooping port got the learned unicast frame");
        assertTrue(fixture.switches.get(SimNetSettings.DEFAULT_SWITCH).isPresent());
    }

    @Test
    void unknownUnicastIsFloodedButOnlyPromiscuousPortsTakeIt() throws Exception {
        MdevInstance a = fixture.create();
        MdevInstance b = fixture.create();
        MdevInstance snoop = fixture.create();
        VirtioNetPort portA = fixture.open(a);
        fixture.open(b);
        VirtioNetPort portSnoop = fixture.open(snoop);
        portSnoop.setPromiscuous(true);
        assertTrue(portA.send(0, frame(0x02_12_34_56_78_9aL, mac(portA), 90, 3)));
        assertEquals(90, receive(portSnoop, 0, received));
        assertEquals(1, stat(b, "port.filtered"));
        assertEquals(0, stat(b, "rx0.packets"));
    }

    @Test
    void framesWaitInTheMailboxWhileNoReceiveBufferIsFreeAndOverflowIsDroppedAndCounted() throws Exception {
        MdevInstance a = fixture.create();
        MdevInstance b = fixture.create();
        VirtioNetPort portA = fixture.open(a);
        VirtioNetPort portB = fixture.open(b);
        long macB = mac(portB);
        int ring = portB.pair(0).receiveQueue().size();
        int mailbox = SimNetFixture.device(b).port().mailbox(0).capacity();
        int overflow = 8;
        // Phase 1: as many frames as b has receive buffers; b's driver takes none, so its ring fills.
        int sent = 0;
        for (; sent < ring; sent++) {
            sendWaiting(portA, frame(macB, mac(portA), 60 + sent % 100, sent));
        }
        SimNetFixture.await(() -> stat(b, "rx0.packets") == ring, "b's receive ring to fill");
        // Phase 2: with no buffer free, frames wait in the mailbox until it is full; the rest are dropped.
        for (; sent < ring + mailbox + overflow; sent++) {
            sendWaiting(portA, frame(macB, mac(portA), 60 + sent % 100, sent));
        }
        int total = sent;
        SimNetFixture.await(() -> stat(a, "tx0.packets") == total, "a to finish sending");
        assertEquals(overflow, stat(b, "port.mailbox_drops"));
        assertEquals(ring + mailbox, stat(b, "port.delivered"));
        // Every kept frame arrives, in order, as b's driver takes them and frees buffers.
        for (int i = 0; i < ring + mailbox; i++) {
            int length = receive(portB, 0, received);
            assertEquals(60 + i % 100, length);
            assertEquals(-1, frame(macB, mac(portA), length, i).mismatch(received.asSlice(0, length)), "frame " + i);
        }
        assertEquals(ring + mailbox, stat(b, "rx0.packets"));
    }

    private static void sendWaiting(VirtioNetPort port, MemorySegment frame) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SimNetFixture.WAIT_SECONDS);
        while (!port.send(0, frame)) {
            assertTrue(System.nanoTime() < deadline, "the transmit ring stayed full");
            port.awaitTransmit(0, 100, TimeUnit.MILLISECONDS);
        }
    }

    @Test
    void removingAnInstanceDetachesItsPort() throws Exception {
        MdevInstance a = fixture.create(SimNetSettings.SWITCH, "lan");
        MdevInstance b = fixture.create(SimNetSettings.SWITCH, "lan");
        LearningSwitch lan = fixture.switches.get("lan").orElseThrow();
        assertEquals(2, lan.portCount());
        fixture.bus.remove(a.uuid());
        assertEquals(1, lan.portCount());
        fixture.bus.remove(b.uuid());
        assertTrue(fixture.switches.get("lan").isEmpty());
    }

    @Test
    void framesForAnInstanceWhoseDriverIsNotReadyAreDroppedAtTheDoor() throws Exception {
        MdevInstance a = fixture.create();
        MdevInstance idle = fixture.create();
        VirtioNetPort portA = fixture.open(a);
        assertTrue(portA.send(0, frame(Ethernet.BROADCAST, mac(portA), 60, 1)));
        SimNetFixture.await(() -> stat(idle, "port.not_receiving_drops") == 1, "the frame to reach the idle port");
        assertEquals(0, stat(idle, "port.delivered"));
    }
}

package io.umdev.simnet;

import static io.umdev.simnet.SimNetFixture.await;
import static io.umdev.simnet.SimNetFixture.frame;
import static io.umdev.simnet.SimNetFixture.mac;
import static io.umdev.simnet.SimNetFixture.receive;
import static io.umdev.simnet.SimNetFixture.stat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.mdev.MdevInstance;
import io.umdev.simnet.l2.Ethernet;
import io.umdev.virtio.driver.BufferChain;
import io.umdev.virtio.driver.DriverQueue;
import io.umdev.virtio.driver.VirtioNetPort;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.NetSpec;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A driver that breaks the rules: the device goes NEEDS_RESET saying why, and its neighbours on the
 * switch carry on.
 */
class HostileDriverTest {
    private static final long UNMAPPED_IOVA = 0x7fff_0000_0000L;

    private SimNetFixture fixture;
    private MdevInstance victim;
    private MdevInstance neighbour;
    private MdevInstance bystander;
    private VirtioNetPort victimPort;
    private VirtioNetPort neighbourPort;
    private VirtioNetPort bystanderPort;
    private final MemorySegment received = MemorySegment.ofArray(new byte[2048]);

    @BeforeEach
    void create() throws Exception {
        fixture = new SimNetFixture();
        victim = fixture.create(SimNetSettings.SWITCH, "lan");
        neighbour = fixture.create(SimNetSettings.SWITCH, "lan");
        bystander = fixture.create(SimNetSettings.SWITCH, "lan");
        victimPort = fixture.open(victim);
        neighbourPort = fixture.open(neighbour);
        bystanderPort = fixture.open(bystander);
    }

    @AfterEach
    void close() throws Exception {
        fixture.close();
    }

    private void post(int queue, BufferChain chain) {
        DriverQueue q = victimPort.driver().queue(queue);
        assertTrue(q.add(chain, 0));
        q.kick();
    }

    private void assertNeedsReset(String reasonPart) throws Exception {
        SimNetDevice device = SimNetFixture.device(victim);
        await(() -> DeviceStatus.has(device.status(), DeviceStatus.NEEDS_RESET), "NEEDS_RESET");
        String reason = device.needsResetReason();
        assertTrue(reason != null && reason.contains(reasonPart), "reason: " + reason);
        // The neighbours still talk; the broken device takes nothing.
        long broadcasts = stat(victim, "port.not_receiving_drops");
        assertTrue(neighbourPort.send(0, frame(Ethernet.BROADCAST, mac(neighbourPort), 60, 9)));
        assertEquals(60, receive(bystanderPort, 0, received));
        assertEquals(broadcasts + 1, stat(victim, "port.not_receiving_drops"));
    }

    @Test
    void aTransmitBufferShorterThanTheHeaderNeedsReset() throws Exception {
        long iova = victimPort.driver().memory().iovaOf(0);
        post(NetSpec.txQueue(0), new BufferChain(1).readable(iova, NetSpec.HDR_SIZE - 1));
        assertNeedsReset("shorter than the virtio-net header");
    }

    @Test
    void aTransmitBufferOutsideTheMappedMemoryNeedsReset() throws Exception {
        post(NetSpec.txQueue(0), new BufferChain(1).readable(UNMAPPED_IOVA, 64));
        assertNeedsReset("queue " + NetSpec.txQueue(0));
    }

    @Test
    void aControlCommandWithNoRoomForItsAckNeedsReset() throws Exception {
        long iova = victimPort.driver().memory().iovaOf(0);
        post(NetSpec.ctrlQueue(1), new BufferChain(1).readable(iova, NetSpec.CTRL_HDR_SIZE + 1));
        assertNeedsReset("ack");
    }

    @Test
    void aResetAfterNeedsResetBringsTheDeviceBack() throws Exception {
        long iova = victimPort.driver().memory().iovaOf(0);
        post(NetSpec.txQueue(0), new BufferChain(1).readable(iova, 1));
        assertNeedsReset("header");
        victimPort.close();
        VirtioNetPort again = fixture.open(victim);
        assertTrue(neighbourPort.send(0, frame(mac(again), mac(neighbourPort), 61, 3)));
        assertEquals(61, receive(again, 0, received));
    }
}

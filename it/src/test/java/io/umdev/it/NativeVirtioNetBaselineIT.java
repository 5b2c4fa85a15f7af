package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Two guests, each with QEMU's own virtio-net-pci, joined by QEMU's stream netdev over a Unix socket in a
 * host directory: Ethernet between two QEMUs, link-local addresses only, no IP traffic on the host.
 * The baseline for umdev's net devices.
 */
@QemuPeerTest
class NativeVirtioNetBaselineIT {

    private static final Logger LOG = LoggerFactory.getLogger(NativeVirtioNetBaselineIT.class);
    private static final String RECEIVER_ADDRESS = "169.254.0.1";
    private static final String SENDER_ADDRESS = "169.254.0.2";
    private static final String LINK_LOCAL_PREFIX = "/16";
    private static final String RECEIVER_MAC = "52:54:00:00:00:01";
    private static final String SENDER_MAC = "52:54:00:00:00:02";
    private static final int STREAM_MIB = 64;
    private static final int PINGS = 5;

    @Test
    void twoGuestsOnNativeVirtioNetReachEachOtherAndStreamTcp(QemuPeer peer, @TempDir Path dir) {
        Path wire = dir.resolve("wire.sock");
        QemuGuest receiver = peer.guest("net-receiver")
                .workloads(Workload.PCI, Workload.VIRTIO, Workload.NET)
                .virtioNetOverUnixSocket(wire, true, RECEIVER_MAC)
                .guestParam("net.addr", RECEIVER_ADDRESS + LINK_LOCAL_PREFIX)
                .guestParam("net.peer", SENDER_ADDRESS)
                .guestParam("net.role", "recv")
                .guestParam("net.pings", PINGS);
        QemuGuest sender = peer.guest("net-sender")
                .workloads(Workload.PCI, Workload.VIRTIO, Workload.NET)
                .virtioNetOverUnixSocket(wire, false, SENDER_MAC)
                .guestParam("net.addr", SENDER_ADDRESS + LINK_LOCAL_PREFIX)
                .guestParam("net.peer", RECEIVER_ADDRESS)
                .guestParam("net.role", "send")
                .guestParam("net.mib", STREAM_MIB)
                .guestParam("net.pings", PINGS);

        GuestRun received;
        GuestRun sent;
        try (RunningGuest listening = receiver.start(); RunningGuest connecting = sender.start()) {
            received = listening.await().requireCompleted();
            sent = connecting.await().requireCompleted();
        }

        for (GuestRun run : new GuestRun[] {received, sent}) {
            GuestResults results = run.results();
            assertTrue(results.succeeded(), () -> run.name() + " reported errors: " + results.errors());
            NetLink link = results.netLink().orElseThrow();
            assertTrue(link.carrier(), link::toString);
            assertEquals("up", link.operState());
            VirtioDevice nic = results.virtioDevices().stream()
                    .filter(device -> device.transport().equals(link.transport()))
                    .findFirst().orElseThrow();
            assertEquals(VirtioDevice.ID_NET, nic.deviceId());
            assertTrue(nic.isLive());
            assertEquals(Optional.of("virtio_net"), nic.driver());
            NetPing ping = results.netPing().orElseThrow();
            assertEquals(PINGS, ping.sent());
            assertEquals(ping.sent(), ping.received(), ping::toString);
        }
        assertEquals(RECEIVER_MAC, received.results().netLink().orElseThrow().mac());
        assertEquals(SENDER_MAC, sent.results().netLink().orElseThrow().mac());

        NetThroughput atReceiver = received.results().netThroughput().orElseThrow();
        NetThroughput atSender = sent.results().netThroughput().orElseThrow();
        assertEquals("recv", atReceiver.role());
        assertEquals(SENDER_ADDRESS, atReceiver.peer());
        assertEquals("send", atSender.role());
        assertEquals((long) STREAM_MIB << 20, atSender.bytes());
        assertEquals(atSender.bytes(), atReceiver.bytes());
        assertTrue(atReceiver.mbitPerSecond() > 0);
        LOG.info("net baseline ({}): ping avg {} ms, TCP {} Mbit/s at the receiver, {} Mbit/s at the sender",
                sent.accel(), sent.results().netPing().orElseThrow().roundTrip().map(NetPing.RoundTrip::averageMillis).orElse(Double.NaN),
                atReceiver.mbitPerSecond(), atSender.mbitPerSecond());
    }
}

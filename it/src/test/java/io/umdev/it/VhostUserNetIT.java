package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.mdev.MdevInstance;
import io.umdev.simnet.SimNetParent;
import io.umdev.virtio.transport.VirtioDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Two guests, each with virtio-net-pci on QEMU's vhost-user netdev, each served by the vhost driver from a
 * sim-net instance on the same software switch: they ping each other and stream TCP over link-local
 * addresses. No host network is involved; the switch is umdev's.
 */
@QemuPeerTest
class VhostUserNetIT {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserNetIT.class);
    private static final String RECEIVER_ADDRESS = "169.254.0.1";
    private static final String SENDER_ADDRESS = "169.254.0.2";
    private static final String LINK_LOCAL_PREFIX = "/16";
    /** The guest's MAC must be the instance's: without a control queue sim-net receives for its own address. */
    private static final String RECEIVER_MAC = "52:54:00:00:10:01";
    private static final String SENDER_MAC = "52:54:00:00:10:02";
    private static final String SWITCH = "it-vhost";
    private static final int STREAM_MIB = 16;
    private static final int PINGS = 5;
    /** Receive and transmit queue of the one pair the guests use. */
    private static final int RX = 0;
    private static final int TX = 1;

    @Test
    void twoVhostUserGuestsOnOneSimNetSwitchReachEachOther(QemuPeer peer, @TempDir Path dir) throws Exception {
        Path run = Files.createDirectories(dir.resolve("run"));
        try (VhostBackends umdev = new VhostBackends(run, Files.createDirectories(dir.resolve("state")))) {
            MdevInstance a = umdev.create(SimNetParent.NAME, SimNetParent.TYPE, Map.of("mac", RECEIVER_MAC, "switch", SWITCH));
            MdevInstance b = umdev.create(SimNetParent.NAME, SimNetParent.TYPE, Map.of("mac", SENDER_MAC, "switch", SWITCH));
            QemuGuest receiver = peer.guest("vhost-net-receiver")
                    .workloads(Workload.PCI, Workload.VIRTIO, Workload.NET)
                    .vhostUserNet(umdev.socket(a), RECEIVER_MAC)
                    .guestParam("net.addr", RECEIVER_ADDRESS + LINK_LOCAL_PREFIX)
                    .guestParam("net.peer", SENDER_ADDRESS)
                    .guestParam("net.role", "recv")
                    .guestParam("net.pings", PINGS);
            QemuGuest sender = peer.guest("vhost-net-sender")
                    .workloads(Workload.PCI, Workload.VIRTIO, Workload.NET)
                    .vhostUserNet(umdev.socket(b), SENDER_MAC)
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
            for (GuestRun g : new GuestRun[] {received, sent}) {
                GuestResults results = g.results();
                assertTrue(results.succeeded(), () -> g.name() + " reported errors: " + results.errors());
                NetLink link = results.netLink().orElseThrow();
                assertTrue(link.carrier(), link::toString);
                NetPing ping = results.netPing().orElseThrow();
                assertEquals(PINGS, ping.sent());
                assertEquals(ping.sent(), ping.received(), ping::toString);
            }
            NetThroughput atReceiver = received.results().netThroughput().orElseThrow();
            NetThroughput atSender = sent.results().netThroughput().orElseThrow();
            assertEquals((long) STREAM_MIB << 20, atSender.bytes());
            assertEquals(atSender.bytes(), atReceiver.bytes());

            // The frames went through umdev: each instance transmitted and received on its pair.
            for (MdevInstance i : new MdevInstance[] {a, b}) {
                VirtioDevice device = i.device().unwrap(VirtioDevice.class).orElseThrow();
                assertTrue(device.queueStatistics(TX).requests() > 0, () -> i + " sent nothing");
                assertTrue(device.queueStatistics(RX).requests() > 0, () -> i + " received nothing");
            }
            LOG.info("vhost-user net on sim-net ({}): ping avg {} ms, TCP {} Mbit/s at the receiver",
                    sent.accel(), sent.results().netPing().orElseThrow().roundTrip().map(NetPing.RoundTrip::averageMillis)
                            .orElse(Double.NaN), atReceiver.mbitPerSecond());
        }
    }
}

package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * virtio-net over vfio-user: the real daemon serves two sim-net instances, ports of one learning switch, each on
 * its own socket; two QEMU guests attach with vfio-user-pci and their unmodified virtio_net drivers negotiate
 * multiqueue and the control queue, change their MAC, toggle promiscuous and all-multicast, join a multicast
 * group, ping each other and stream TCP. The daemon's counters show the control commands succeeded.
 */
@QemuPeerTest
class VirtioNetOverVfioUserIT {

    private static final Logger LOG = LoggerFactory.getLogger(VirtioNetOverVfioUserIT.class);
    private static final UUID NET0 = UUID.fromString("7e700000-0000-4000-8000-00000000000a");
    private static final UUID NET1 = UUID.fromString("7e700000-0000-4000-8000-00000000000b");
    private static final String SWITCH = "it-switch";
    /** Queue pairs each device offers; the guest has as many CPUs, so virtio_net enables them all. */
    private static final int QUEUE_PAIRS = 2;
    private static final String RECEIVER_ADDRESS = "169.254.0.1";
    private static final String SENDER_ADDRESS = "169.254.0.2";
    private static final String LINK_LOCAL_PREFIX = "/16";
    /** What the daemon configures, and what each guest changes its MAC to through the control queue. */
    private static final String RECEIVER_MAC = "52:54:00:00:01:01";
    private static final String SENDER_MAC = "52:54:00:00:01:02";
    private static final String RECEIVER_NEW_MAC = "52:54:00:00:02:01";
    private static final String SENDER_NEW_MAC = "52:54:00:00:02:02";
    private static final String GROUP = "239.1.2.3";
    /** The Ethernet address of GROUP (RFC 1112: 01:00:5e and the low 23 bits). */
    private static final String GROUP_MAC = "01005e010203";
    private static final int STREAM_MIB = 64;
    private static final int PINGS = 5;
    /**
     * Control commands each guest causes at least: VQ_PAIRS_SET at probe, MAC ADDR_SET, PROMISC on and off,
     * ALLMULTI on and off, the multicast group's TABLE_SET.
     */
    private static final int MIN_CONTROL_COMMANDS = 7;
    /** Feature bits (virtio 1.2, 5.1.3). */
    private static final int F_CTRL_VQ = 17;
    private static final int F_CTRL_RX = 18;
    private static final int F_MQ = 22;
    private static final int F_CTRL_MAC_ADDR = 23;
    private static final Duration GUEST_TIMEOUT = Duration.ofMinutes(5);

    private static UmdevDaemon.Instance port(String label, UUID uuid, String mac) {
        return new UmdevDaemon.Instance(label, uuid, "sim-net", "net", Map.of("mac", mac, "max_vqp",
                Integer.toString(QUEUE_PAIRS), "mode", "switch", "switch", SWITCH));
    }

    private static QemuGuest guest(QemuPeer peer, String name, Path socket, String address, String peerAddress,
            String role, String newMac) {
        return peer.guest(name).timeout(GUEST_TIMEOUT).cpus(QUEUE_PAIRS)
                .workloads(Workload.PCI, Workload.VIRTIO, Workload.NET)
                .vfioUserDevice(socket)
                .guestParam("net.addr", address + LINK_LOCAL_PREFIX)
                .guestParam("net.peer", peerAddress)
                .guestParam("net.role", role)
                .guestParam("net.mib", STREAM_MIB)
                .guestParam("net.pings", PINGS)
                .guestParam("net.mac", newMac)
                .guestParam("net.group", GROUP);
    }

    @Test
    void twoGuestsOnOneSwitchNegotiateMultiqueueUseTheControlQueueAndStreamTcp(QemuPeer peer, @TempDir Path dir)
            throws Exception {
        GuestRun received;
        GuestRun sent;
        Map<String, Long> receiverCounters;
        Map<String, Long> senderCounters;
        try (UmdevDaemon daemon = UmdevDaemon.start(dir.resolve("umdev"), peer.logDirectory(),
                List.of(port("net0", NET0, RECEIVER_MAC), port("net1", NET1, SENDER_MAC)))) {
            QemuGuest receiver = guest(peer, "net-receiver", daemon.socket("net0"), RECEIVER_ADDRESS, SENDER_ADDRESS,
                    "recv", RECEIVER_NEW_MAC);
            QemuGuest sender = guest(peer, "net-sender", daemon.socket("net1"), SENDER_ADDRESS, RECEIVER_ADDRESS,
                    "send", SENDER_NEW_MAC);
            try (RunningGuest listening = receiver.start(); RunningGuest connecting = sender.start()) {
                received = listening.await().requireCompleted();
                sent = connecting.await().requireCompleted();
            }
            receiverCounters = daemon.statistics(NET0);
            senderCounters = daemon.statistics(NET1);
            assertTrue(daemon.isAlive());
        }

        Map<GuestRun, String> newMacs = Map.of(received, RECEIVER_NEW_MAC, sent, SENDER_NEW_MAC);
        for (GuestRun run : List.of(received, sent)) {
            GuestResults results = run.results();
            assertTrue(results.succeeded(), run::describe);
            NetLink link = results.netLink().orElseThrow();
            assertTrue(link.carrier(), link::toString);
            assertEquals("up", link.operState());
            assertEquals(newMacs.get(run), link.mac(), "the interface kept the MAC the guest set");
            PciDevice function = results.pciDevice(link.transport().orElseThrow()).orElseThrow();
            assertEquals(PciDevice.VENDOR_VIRTIO, function.vendor());
            assertEquals(0x1040 + VirtioDevice.ID_NET, function.device());
            VirtioDevice nic = results.virtioDevices().stream().filter(d -> d.transport().equals(link.transport()))
                    .findFirst().orElseThrow();
            assertEquals(VirtioDevice.ID_NET, nic.deviceId());
            assertEquals(Optional.of("virtio_net"), nic.driver());
            assertTrue(nic.isLive(), () -> "status 0x" + Integer.toHexString(nic.status()));
            for (int bit : new int[] {VirtioDevice.F_VERSION_1, F_CTRL_VQ, F_CTRL_RX, F_MQ, F_CTRL_MAC_ADDR}) {
                assertTrue(nic.hasFeature(bit), () -> "feature " + bit + " not negotiated: " + Long.toHexString(nic.features()));
            }
            NetQueues queues = results.netQueues().orElseThrow();
            assertEquals(QUEUE_PAIRS, queues.rx(), queues::toString);
            assertEquals(QUEUE_PAIRS, queues.tx(), queues::toString);
            NetControl control = results.netControl().orElseThrow();
            assertEquals(newMacs.get(run), control.macAfter());
            assertTrue(control.multicastMacs().contains(GROUP_MAC), control::toString);
            NetPing ping = results.netPing().orElseThrow();
            assertEquals(PINGS, ping.sent());
            assertEquals(ping.sent(), ping.received(), ping::toString);
        }
        NetThroughput atReceiver = received.results().netThroughput().orElseThrow();
        NetThroughput atSender = sent.results().netThroughput().orElseThrow();
        assertEquals((long) STREAM_MIB << 20, atSender.bytes());
        assertEquals(atSender.bytes(), atReceiver.bytes());

        for (Map<String, Long> counters : List.of(receiverCounters, senderCounters)) {
            assertTrue(counters.get("ctrl.ok") >= MIN_CONTROL_COMMANDS, counters::toString);
            assertEquals(0L, counters.get("ctrl.err"), counters::toString);
            assertEquals(0L, counters.get("device.needs_reset"), counters::toString);
            long received0 = counters.get("rx0.packets");
            long received1 = counters.get("rx1.packets");
            assertTrue(received0 + received1 > 0, counters::toString);
        }
        String summary = "umdev virtio-net over vfio-user (%s): ping avg %s ms, TCP %.0f Mbit/s at the receiver, %.0f at the sender; control commands %d/%d ok"
                .formatted(sent.accel(), sent.results().netPing().orElseThrow().roundTrip()
                        .map(NetPing.RoundTrip::averageMillis).map(String::valueOf).orElse("-"),
                        atReceiver.mbitPerSecond(), atSender.mbitPerSecond(), receiverCounters.get("ctrl.ok"),
                        senderCounters.get("ctrl.ok"));
        LOG.info("{}\nreceiver counters {}\nsender counters {}", summary, receiverCounters, senderCounters);
        Files.writeString(peer.logDirectory().resolve("net-summary.txt"), Instant.now() + " " + summary + "\n");
    }
}

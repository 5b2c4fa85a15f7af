package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.mdev.MdevInstance;
import io.umdev.simblk.SimBlkParent;
import io.umdev.vhost.VhostMdevDriver;
import io.umdev.vhost.VhostUserServer;
import io.umdev.virtio.transport.VirtioDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backend goes away under a running guest and comes back (the vhost driver unbound and bound again,
 * so the socket closes and a new one listens at the same path): QEMU's vhost-user-blk reconnects
 * ({@code reconnect-ms}), sets the device up again and the guest's block workload finishes with its data
 * intact. The sim-blk instance and its disk are the same throughout.
 */
@QemuPeerTest
class VhostUserReconnectIT {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserReconnectIT.class);
    private static final long DISK_BYTES = 256L << 20;
    private static final int INTEGRITY_MIB = 64;
    private static final long REQUESTS_BEFORE_DROP = 100;
    private static final Duration WAIT = Duration.ofMinutes(2);

    @Test
    void qemuReconnectsAndTheGuestsDataSurvivesABackendRestart(QemuPeer peer, @TempDir Path dir) throws Exception {
        Path run = Files.createDirectories(dir.resolve("run"));
        Path backing = dir.resolve("sim-blk.img");
        try (VhostBackends umdev = new VhostBackends(run, Files.createDirectories(dir.resolve("state")))) {
            MdevInstance disk = umdev.create(SimBlkParent.NAME, SimBlkParent.TYPE, Map.of(
                    SimBlkParent.CAPACITY, Long.toString(DISK_BYTES), SimBlkParent.BACKING_FILE, backing.toString()));
            VirtioDevice device = disk.device().unwrap(VirtioDevice.class).orElseThrow();
            RunningGuest guest = peer.guest("vhost-user-reconnect")
                    .workloads(Workload.BLK)
                    .vhostUserBlk(umdev.socket(disk), 1)
                    .guestParam("blk.devs", "vda")
                    .guestParam("blk.seq_mib", 8)
                    .guestParam("blk.rand_ops", 200)
                    .guestParam("blk.integrity_mib", INTEGRITY_MIB)
                    .timeout(Duration.ofMinutes(4))
                    .start();
            GuestRun result;
            long requestsAtDrop;
            try (guest) {
                Instant deadline = Instant.now().plus(WAIT);
                while (device.queueStatistics(0).requests() < REQUESTS_BEFORE_DROP) {
                    if (Instant.now().isAfter(deadline)) {
                        throw new AssertionError("the guest never reached the disk");
                    }
                    Thread.sleep(20);
                }
                requestsAtDrop = device.queueStatistics(0).requests();
                // The backend restarts: the socket closes under QEMU, then listens again at the same path.
                umdev.bus.unbind(disk.uuid());
                umdev.bus.bind(disk.uuid(), VhostMdevDriver.NAME);
                VhostUserServer again = umdev.server(disk);
                while (again.sessions() == 0) {
                    if (Instant.now().isAfter(deadline)) {
                        throw new AssertionError("QEMU never reconnected");
                    }
                    Thread.sleep(50);
                }
                result = guest.await().requireCompleted();
            }
            GuestResults results = result.results();
            assertTrue(results.succeeded(), () -> "guest reported errors: " + results.errors());
            BlockIntegrity integrity = results.block("vda").integrity();
            assertTrue(integrity.verified(), integrity::toString);
            assertEquals(0, integrity.mismatchedBlocks());
            assertEquals(integrity.crc32(), DiskImage.crc32(backing, integrity.offset(), integrity.bytes()));
            assertTrue(device.queueStatistics(0).requests() > requestsAtDrop, "requests continued after the reconnect");
            LOG.info("reconnect: backend restarted after {} requests; the guest finished with its data intact ({})",
                    requestsAtDrop, result.accel());
        }
    }
}

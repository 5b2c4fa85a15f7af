package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.mdev.MdevInstance;
import io.umdev.simnet.SimNetParent;
import io.umdev.virtio.transport.VirtioDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Debian's DPDK testpmd with the {@code virtio_user} vdev against a sim-net instance (loopback mode) served
 * by the vhost driver: testpmd sends a first burst and then forwards (io mode) whatever comes back, so
 * frames circle between testpmd and umdev; its packets per second are printed beside the same testpmd
 * against testpmd's own vhost PMD (a second testpmd forwarding back), measured in the same run. Both in
 * containers with {@code --network none}, EAL {@code --no-huge} (memfd-backed memory), on the shared
 * 2-vCPU machine.
 */
@QemuPeerTest
class VhostUserDpdkIT {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserDpdkIT.class);
    private static final String MAC = "02:00:00:00:20:01";
    private static final int RUN_SECONDS = 14;
    private static final long WAIT_SECONDS = 90;
    /** Receive and transmit queue of the pair testpmd uses. */
    private static final int RX = 0;
    private static final int TX = 1;
    private static final List<String> FORWARD = List.of("--forward-mode=io", "--tx-first", "--stats-period=2",
            "--burst=64", "--txpkts=64", "--total-num-mbufs=8192", "--nb-cores=1", "--rxq=1", "--txq=1", "--rxd=256", "--txd=256");

    private static String dpdkImage() throws Exception {
        Optional<String> image = Provisioning.dpdkImage(Provisioning.cacheDirectory());
        if (image.isEmpty() && "true".equals(System.getenv(QemuPeerExtension.CI_ENV))) {
            throw new IllegalStateException("CI=true but no DPDK peer image was provisioned; run " + Provisioning.PROVISION_COMMAND);
        }
        Assumptions.assumeTrue(image.isPresent(), "no DPDK peer image provisioned (it/provision/dpdk.sh)");
        return image.get();
    }

    /**
     * The virtio_user side forwards on CPU 1 (lcore 0 is its main lcore, idle); the vhost PMD side of the
     * baseline forwards on CPU 0, so the two busy-polling loops never share a CPU.
     */
    private static List<String> virtioUser(Path socket) {
        return List.of("-l", "0,1", "--vdev=net_virtio_user0,path=" + socket + ",queues=1,queue_size=256,mac=02:00:00:00:20:02");
    }

    @Test
    void testpmdVirtioUserForwardsThroughSimNetBesideTestpmdsOwnVhostPmd(@TempDir Path dir) throws Exception {
        String image = dpdkImage();
        Path run = Files.createDirectories(dir.resolve("run"));
        Path logs = Path.of(System.getProperty("umdev.it.logs", "target/it-logs"), "VhostUserDpdkIT");
        long umdevPps;
        long vhostPmdPps;
        try (VhostBackends umdev = new VhostBackends(run, Files.createDirectories(dir.resolve("state")))) {
            MdevInstance port = umdev.create(SimNetParent.NAME, SimNetParent.TYPE, Map.of("mac", MAC, "mode", "loopback"));
            List<String> app = new java.util.ArrayList<>(FORWARD);
            // Frames go to the instance's own address, which its receive filter accepts.
            app.add("--eth-peer=0," + MAC);
            try (Testpmd pmd = Testpmd.start(image, "umdev-it-testpmd-umdev", run, logs, RUN_SECONDS,
                    virtioUser(umdev.socket(port)), app)) {
                assertEquals(0, pmd.await(WAIT_SECONDS), () -> "testpmd failed; see " + pmd.log());
                umdevPps = pmd.steadyRxPps();
                assertTrue(umdevPps > 0, () -> "no packets came back from umdev; see " + pmd.log());
                String out = pmd.output();
                assertTrue(out.contains("Port 0"), out);
            }
            VirtioDevice device = port.device().unwrap(VirtioDevice.class).orElseThrow();
            assertTrue(device.queueStatistics(TX).requests() > 0, "testpmd's frames reached sim-net");
            assertTrue(device.queueStatistics(RX).requests() > 0, "sim-net's frames reached testpmd");
            assertEquals(1, umdev.server(port).sessions());
        }

        // The same testpmd against testpmd's vhost PMD, which forwards everything straight back.
        Path socket = run.resolve("testpmd-vhost.sock");
        try (Testpmd backend = Testpmd.start(image, "umdev-it-testpmd-vhost", run, logs, RUN_SECONDS + 10,
                List.of("-l", "0,1", "--main-lcore", "1", "--vdev=net_vhost0,iface=" + socket + ",queues=1"),
                List.of("--forward-mode=io", "--nb-cores=1", "--stats-period=2", "--rxd=256", "--txd=256",
                        "--total-num-mbufs=8192"))) {
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
            while (!Files.exists(socket)) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("testpmd's vhost PMD never made its socket; see " + backend.log());
                }
                Thread.sleep(100);
            }
            try (Testpmd pmd = Testpmd.start(image, "umdev-it-testpmd-frontend", run, logs, RUN_SECONDS,
                    virtioUser(socket), FORWARD)) {
                assertEquals(0, pmd.await(WAIT_SECONDS), () -> "testpmd failed; see " + pmd.log());
                vhostPmdPps = pmd.steadyRxPps();
            }
        }
        String table = String.format(Locale.ROOT, """
                | testpmd virtio_user (io fwd, 64-byte frames, --no-huge) | Rx packets/s (median of 2 s periods) |
                |---|---|
                | against umdev sim-net (loopback) over vhost-user | %d |
                | against testpmd's vhost PMD (io fwd) | %d |
                | umdev / vhost PMD | %.2f |
                """, umdevPps, vhostPmdPps, (double) umdevPps / vhostPmdPps);
        LOG.info("DPDK virtio_user, same run:\n{}", table);
        System.out.println(table);
        assertTrue(vhostPmdPps > 0);
    }
}

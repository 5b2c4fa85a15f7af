package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.daemon.DaemonConfiguration;
import io.umdev.daemon.DaemonOptions;
import io.umdev.daemon.DaggerDaemonComponent;
import io.umdev.daemon.Daemon;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The product's headline path, smallest form: umdevd with its embedded default configuration serves blk0
 * (sim-blk, file-backed in the state directory) as a virtio-pci function on {@code RUN-DIR/blk0.sock}; an
 * unmodified Linux guest in QEMU 11.1 attaches with vfio-user-pci, binds its ordinary virtio_blk driver,
 * and passes the block workload; the pattern it wrote is in the backing file on the host.
 */
@QemuPeerTest
class VirtioBlkVfioUserSmokeIT {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioBlkVfioUserSmokeIT.class);
    private static final long BLK0_BYTES = 256L << 20;
    private static final int INTEGRITY_MIB = 16;
    private static final int SEQUENTIAL_MIB = 64;
    private static final int RANDOM_OPS = 2000;
    private static final int MODERN_VIRTIO_PCI_BASE = 0x1040;
    private static final int DMA_MAPPINGS = 64;

    @Test
    void guestBindsVirtioBlkOnTheDefaultBlk0SocketAndItsWritesReachTheBackingFile(QemuPeer peer, @TempDir Path dir)
            throws Exception {
        Path state = dir.resolve("state");
        Path run = dir.resolve("run");
        DaemonOptions options = new DaemonOptions(state, run, List.of(state.resolve("plugins")), DMA_MAPPINGS);
        try (Daemon daemon = DaggerDaemonComponent.factory().create(options, DaemonConfiguration.embedded()).daemon()) {
            daemon.start();
            Path socket = run.resolve("blk0.sock");
            assertTrue(Files.exists(socket), "umdevd serves blk0 on " + socket);

            GuestRun guest = peer.guest("blk0")
                    .workloads(Workload.PCI, Workload.VIRTIO, Workload.BLK)
                    .vfioUserDevice(socket)
                    .guestParam("blk.devs", "vda")
                    .guestParam("blk.seq_mib", SEQUENTIAL_MIB)
                    .guestParam("blk.rand_ops", RANDOM_OPS)
                    .guestParam("blk.integrity_mib", INTEGRITY_MIB)
                    .run();
            GuestResults results = guest.results();
            assertTrue(results.succeeded(), guest::describe);
            BlockReport report = results.block("vda");
            LOG.info("umdev blk0 over vfio-user ({}): {}", guest.accel(), report.summary());

            assertEquals(BLK0_BYTES, report.device().bytes());
            String slot = report.device().transport().orElseThrow();
            PciDevice function = results.pciDevice(slot).orElseThrow();
            assertEquals(PciDevice.VENDOR_VIRTIO, function.vendor());
            assertEquals(MODERN_VIRTIO_PCI_BASE + VirtioDevice.ID_BLOCK, function.device());
            assertEquals(Optional.of("virtio-pci"), function.driver());
            assertTrue(function.hasCapability(PciDevice.CAP_MSIX), function::toString);
            VirtioDevice virtio = results.virtioDevices().stream()
                    .filter(device -> device.transport().equals(Optional.of(slot)))
                    .findFirst().orElseThrow(() -> new AssertionError("no virtio device on " + slot));
            assertEquals(VirtioDevice.ID_BLOCK, virtio.deviceId());
            assertTrue(virtio.isLive(), () -> "status " + Integer.toHexString(virtio.status()));
            assertTrue(virtio.hasFeature(VirtioDevice.F_VERSION_1));

            BlockIntegrity integrity = report.integrity();
            assertTrue(integrity.verified(), integrity::toString);
            assertEquals(0, integrity.mismatchedBlocks());
            assertEquals((long) INTEGRITY_MIB << 20, integrity.bytes());
            assertEquals(integrity.crc32(), DiskImage.crc32(state.resolve("blk0.img"), integrity.offset(),
                    integrity.bytes()), "the pattern the guest wrote is in blk0's backing file");
            assertTrue(report.sequentialRead().mbPerSecond() > 0 && report.randomRead().iops() > 0, report::summary);
        }
    }
}

package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * QEMU's own virtio-blk-pci, no umdev involved: the guest's block workload against it is the baseline every
 * later umdev block figure is compared with.
 */
@QemuPeerTest
class NativeVirtioBlkBaselineIT {

    private static final Logger LOG = LoggerFactory.getLogger(NativeVirtioBlkBaselineIT.class);
    private static final long DISK_BYTES = 256L << 20;
    private static final String SERIAL = "baseline0";
    private static final int SEQUENTIAL_MIB = 256;
    private static final int RANDOM_OPS = 4000;
    private static final int INTEGRITY_MIB = 16;
    /** Modern virtio-pci device IDs are 0x1040 + the virtio device ID. */
    private static final int MODERN_VIRTIO_PCI_BASE = 0x1040;
    private static final int SEQUENTIAL_BLOCK = 1 << 20;
    private static final int RANDOM_BLOCK = 4096;

    @Test
    void nativeVirtioBlkDiskKeepsItsDataAndReportsThroughputAndLatency(QemuPeer peer, @TempDir Path dir) throws IOException {
        Path disk = DiskImage.zeroFilled(dir.resolve("baseline.img"), DISK_BYTES);

        GuestRun run = peer.guest("virtio-blk")
                .workloads(Workload.PCI, Workload.VIRTIO, Workload.BLK)
                .virtioBlkDisk(disk, SERIAL)
                .guestParam("blk.devs", "vda")
                .guestParam("blk.seq_mib", SEQUENTIAL_MIB)
                .guestParam("blk.rand_ops", RANDOM_OPS)
                .guestParam("blk.integrity_mib", INTEGRITY_MIB)
                .run();
        GuestResults results = run.results();
        assertTrue(results.succeeded(), () -> "guest reported errors: " + results.errors());
        BlockReport report = results.block("vda");
        LOG.info("baseline ({}): {}", run.accel(), report.summary());

        assertEquals(DISK_BYTES, report.device().bytes());
        assertEquals(Optional.of(SERIAL), report.device().serial());
        String slot = report.device().transport().orElseThrow();
        PciDevice function = results.pciDevice(slot).orElseThrow();
        assertEquals(PciDevice.VENDOR_VIRTIO, function.vendor());
        assertEquals(MODERN_VIRTIO_PCI_BASE + VirtioDevice.ID_BLOCK, function.device());
        assertEquals(Optional.of("virtio-pci"), function.driver());
        assertTrue(function.hasCapability(PciDevice.CAP_MSIX), function::toString);
        VirtioDevice virtio = results.virtioDevices().stream()
                .filter(device -> device.transport().equals(Optional.of(slot)))
                .findFirst().orElseThrow();
        assertEquals(VirtioDevice.ID_BLOCK, virtio.deviceId());
        assertTrue(virtio.isLive(), () -> "status " + Integer.toHexString(virtio.status()));
        assertTrue(virtio.hasFeature(VirtioDevice.F_VERSION_1));

        BlockIntegrity integrity = report.integrity();
        assertTrue(integrity.verified());
        assertEquals(0, integrity.mismatchedBlocks());
        assertEquals(integrity.crc32(), integrity.readCrc32());
        assertEquals((long) INTEGRITY_MIB << 20, integrity.bytes());
        assertEquals(integrity.crc32(), DiskImage.crc32(disk, integrity.offset(), integrity.bytes()),
                "the pattern the guest wrote is what QEMU left in the image file");

        for (SequentialIo sequential : new SequentialIo[] {report.sequentialWrite(), report.sequentialRead()}) {
            assertEquals(SEQUENTIAL_BLOCK, sequential.blockSize());
            assertEquals((long) SEQUENTIAL_MIB << 20, sequential.bytes());
            assertTrue(sequential.mbPerSecond() > 0, sequential::toString);
        }
        for (RandomIo random : new RandomIo[] {report.randomWrite(), report.randomRead()}) {
            assertEquals(RANDOM_BLOCK, random.blockSize());
            assertEquals(RANDOM_OPS, random.ops());
            assertTrue(random.iops() > 0, random::toString);
            assertTrue(random.latency().p50Micros() > 0 && random.latency().isMonotonic(), random::toString);
        }
    }
}

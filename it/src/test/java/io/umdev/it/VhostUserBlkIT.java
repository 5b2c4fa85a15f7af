package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.mdev.MdevInstance;
import io.umdev.simblk.SimBlkParent;
import io.umdev.virtio.transport.VirtioDevice;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * QEMU 11.1's vhost-user-blk-pci on a sim-blk instance served by the vhost driver, in one guest beside
 * QEMU's built-in virtio-blk-pci on an image file of the same size: the guest's integrity workload passes
 * on the umdev disk (and the host finds the same bytes in its backing file), and both disks' throughput is
 * printed side by side, measured in the same guest one after the other.
 */
@QemuPeerTest
class VhostUserBlkIT {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserBlkIT.class);
    private static final long DISK_BYTES = 256L << 20;
    private static final String VHOST_SERIAL = "umdev-vhost0";
    private static final String NATIVE_SERIAL = "native0";
    private static final int SEQUENTIAL_MIB = 64;
    private static final int RANDOM_OPS = 2000;
    private static final int INTEGRITY_MIB = 16;

    @Test
    void vhostUserBlkOnSimBlkKeepsTheGuestsDataAndIsMeasuredBesideNativeVirtioBlk(QemuPeer peer, @TempDir Path dir)
            throws Exception {
        Path run = Files.createDirectories(dir.resolve("run"));
        Path backing = dir.resolve("sim-blk.img");
        Path nativeImage = DiskImage.zeroFilled(dir.resolve("native.img"), DISK_BYTES);
        try (VhostBackends umdev = new VhostBackends(run, Files.createDirectories(dir.resolve("state")))) {
            MdevInstance disk = umdev.create(SimBlkParent.NAME, SimBlkParent.TYPE, Map.of(
                    SimBlkParent.CAPACITY, Long.toString(DISK_BYTES), SimBlkParent.BACKING_FILE, backing.toString(),
                    SimBlkParent.SERIAL, VHOST_SERIAL));
            GuestRun guest = peer.guest("vhost-user-blk")
                    .workloads(Workload.PCI, Workload.VIRTIO, Workload.BLK)
                    .vhostUserBlk(umdev.socket(disk), 1)
                    .virtioBlkDisk(nativeImage, NATIVE_SERIAL)
                    .guestParam("blk.devs", "vda,vdb")
                    .guestParam("blk.seq_mib", SEQUENTIAL_MIB)
                    .guestParam("blk.rand_ops", RANDOM_OPS)
                    .guestParam("blk.integrity_mib", INTEGRITY_MIB)
                    .run();
            GuestResults results = guest.results();
            assertTrue(results.succeeded(), () -> "guest reported errors: " + results.errors());

            BlockReport vhost = report(results, VHOST_SERIAL);
            BlockReport builtin = report(results, NATIVE_SERIAL);
            assertEquals(DISK_BYTES, vhost.device().bytes());
            BlockIntegrity integrity = vhost.integrity();
            assertTrue(integrity.verified(), integrity::toString);
            assertEquals(0, integrity.mismatchedBlocks());
            assertEquals((long) INTEGRITY_MIB << 20, integrity.bytes());
            assertEquals(integrity.crc32(), DiskImage.crc32(backing, integrity.offset(), integrity.bytes()),
                    "the pattern the guest wrote through vhost-user is in sim-blk's backing file");
            assertTrue(builtin.integrity().verified());

            VirtioDevice device = disk.device().unwrap(VirtioDevice.class).orElseThrow();
            assertTrue(device.queueStatistics(0).requests() > RANDOM_OPS, "the requests went through umdev");
            assertEquals(1, umdev.server(disk).sessions());

            String table = ratioTable(guest.accel().toString(), vhost, builtin);
            LOG.info("vhost-user-blk on sim-blk vs QEMU virtio-blk, same guest:\n{}", table);
            System.out.println(table);
        }
    }

    @Test
    void packedRingsAndTwoQueuesOverVhostUserKeepTheGuestsData(QemuPeer peer, @TempDir Path dir) throws Exception {
        Path run = Files.createDirectories(dir.resolve("run"));
        Path backing = dir.resolve("sim-blk.img");
        try (VhostBackends umdev = new VhostBackends(run, Files.createDirectories(dir.resolve("state")))) {
            MdevInstance disk = umdev.create(SimBlkParent.NAME, SimBlkParent.TYPE, Map.of(
                    SimBlkParent.CAPACITY, Long.toString(DISK_BYTES), SimBlkParent.BACKING_FILE, backing.toString(),
                    SimBlkParent.NUM_QUEUES, "2"));
            GuestRun guest = peer.guest("vhost-user-blk-packed")
                    .workloads(Workload.VIRTIO, Workload.BLK)
                    .vhostUserBlk(umdev.socket(disk), 2, true)
                    .guestParam("blk.devs", "vda")
                    .guestParam("blk.seq_mib", 8)
                    .guestParam("blk.rand_ops", 200)
                    .guestParam("blk.integrity_mib", INTEGRITY_MIB)
                    .run();
            GuestResults results = guest.results();
            assertTrue(results.succeeded(), () -> "guest reported errors: " + results.errors());
            io.umdev.it.VirtioDevice virtio = results.virtioDevices().stream()
                    .filter(d -> d.deviceId() == io.umdev.it.VirtioDevice.ID_BLOCK).findFirst().orElseThrow();
            assertTrue(virtio.hasFeature(io.umdev.it.VirtioDevice.F_RING_PACKED), () -> "packed rings were negotiated: " + virtio);
            BlockIntegrity integrity = results.block("vda").integrity();
            assertTrue(integrity.verified(), integrity::toString);
            assertEquals(integrity.crc32(), DiskImage.crc32(backing, integrity.offset(), integrity.bytes()));
            VirtioDevice device = disk.device().unwrap(VirtioDevice.class).orElseThrow();
            assertTrue(device.queueStatistics(0).requests() + device.queueStatistics(1).requests() > 0);
            LOG.info("packed, 2 queues: q0 {} requests, q1 {} requests", device.queueStatistics(0).requests(),
                    device.queueStatistics(1).requests());
        }
    }

    private static BlockReport report(GuestResults results, String serial) {
        for (BlockDevice d : results.blockDevices()) {
            if (d.serial().equals(Optional.of(serial))) {
                return results.block(d.dev());
            }
        }
        throw new AssertionError("no disk with serial " + serial + " in " + results.blockDevices());
    }

    static String ratioTable(String accel, BlockReport umdev, BlockReport builtin) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "| %s guest, QD1, O_DIRECT | umdev vhost-user-blk (sim-blk) | QEMU virtio-blk | umdev/QEMU |%n", accel));
        s.append("|---|---|---|---|\n");
        row(s, "seq write 1 MiB, MB/s", umdev.sequentialWrite().mbPerSecond(), builtin.sequentialWrite().mbPerSecond());
        row(s, "seq read 1 MiB, MB/s", umdev.sequentialRead().mbPerSecond(), builtin.sequentialRead().mbPerSecond());
        row(s, "rand write 4 KiB, IOPS", umdev.randomWrite().iops(), builtin.randomWrite().iops());
        row(s, "rand read 4 KiB, IOPS", umdev.randomRead().iops(), builtin.randomRead().iops());
        row(s, "rand read p50, us", umdev.randomRead().latency().p50Micros(), builtin.randomRead().latency().p50Micros());
        return s.toString();
    }

    private static void row(StringBuilder s, String what, double umdev, double builtin) {
        s.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.2f |%n", what, umdev, builtin, umdev / builtin));
    }
}

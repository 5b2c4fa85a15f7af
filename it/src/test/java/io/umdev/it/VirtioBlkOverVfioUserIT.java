package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.simblk.SimBlkParent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * virtio-blk over vfio-user: the real daemon serves a file-backed sim-blk instance with the virtio-pci
 * personality on its socket, QEMU 11.1's vfio-user-pci connects, and the guest's unmodified virtio_blk driver
 * runs the block workload. Data is checked in the backing file from the host; figures are measured beside QEMU's
 * own virtio-blk-pci on the same kind of file in the same guest.
 */
@QemuPeerTest
class VirtioBlkOverVfioUserIT {

    private static final Logger LOG = LoggerFactory.getLogger(VirtioBlkOverVfioUserIT.class);
    private static final UUID BLK0 = UUID.fromString("b1c00000-0000-4000-8000-00000000000a");
    private static final String LABEL = "blk0";
    private static final String SERIAL = "umdev-it-blk0";
    /** The comparison's second umdev disk: the same as blk0 but without polling. */
    private static final UUID BLK1 = UUID.fromString("b1c00000-0000-4000-8000-00000000000b");
    private static final String LABEL_NOT_POLLED = "blk1";
    private static final String SERIAL_NOT_POLLED = "umdev-it-blk1";
    private static final String QEMU_SERIAL = "qemu-it-blk";
    /**
     * sim-blk's request queues in the comparison: QEMU's virtio-blk-pci defaults num-queues to the guest's
     * vCPUs, so two queues on the default two vCPUs make the disks alike.
     */
    private static final int QUEUES = QemuGuest.DEFAULT_CPUS;
    /** sim-blk's adaptive polling: how long a queue worker polls the ring after a request before it sleeps. */
    private static final String POLL_US = "poll_us";
    private static final String POLLED_US = "1000";
    private static final String NOT_POLLED_US = "0";
    /**
     * The blk workload runs this many times on every disk, interleaved, so that no disk has the host's quiet
     * (or busy) minute or the daemon's JIT warm-up to itself; the comparison takes the median round.
     */
    private static final int ROUNDS = 6;
    /** Rounds shown but left out of the medians: the daemon's JIT compiles its data path during the first. */
    private static final int WARMUP_ROUNDS = 1;
    /** The guest's benchmarks and integrity pattern stay within the first 256 MiB. */
    private static final long DISK_BYTES = 256L << 20;
    /** The reboot test's disk: its last 4 KiB (the boot count) lies beyond what the workloads write. */
    private static final long REBOOT_DISK_BYTES = 320L << 20;
    /**
     * Per round and direction, four passes over the 256 MiB span: a single pass lasts under 0.2 s here, too
     * short to outlast the host's scheduling noise. With ROUNDS and three disks about a minute under TCG.
     */
    private static final int SEQUENTIAL_MIB = 1024;
    private static final int RANDOM_OPS = 2000;
    private static final int INTEGRITY_MIB = 16;
    private static final long SEED = 0x756d646576L;
    private static final long ACK_SEED = 0xac4ed5eedL;
    /** Acknowledged blocks to see before QEMU is killed. */
    private static final int ACKS_BEFORE_KILL = 200;
    private static final int MODERN_VIRTIO_PCI_BASE = 0x1040;
    private static final int BOOT_BLOCK = 4096;
    private static final Duration GUEST_TIMEOUT = Duration.ofMinutes(10);
    private static final Duration ACK_WAIT = Duration.ofMinutes(5);

    private static UmdevDaemon.Instance disk(Path file, long bytes) {
        return disk(LABEL, BLK0, SERIAL, file, bytes, Map.of());
    }

    private static UmdevDaemon.Instance disk(String label, UUID uuid, String serial, Path file, long bytes,
            Map<String, String> moreAttrs) {
        Map<String, String> attrs = new LinkedHashMap<>(Map.of(SimBlkParent.CAPACITY, Long.toString(bytes),
                SimBlkParent.BACKING_FILE, file.toString(), SimBlkParent.SERIAL, serial));
        attrs.putAll(moreAttrs);
        return new UmdevDaemon.Instance(label, uuid, SimBlkParent.NAME, SimBlkParent.TYPE, attrs);
    }

    /** A comparison disk: two queues like QEMU's, polling for {@code pollMicros} (0: never). */
    private static UmdevDaemon.Instance comparedDisk(String label, UUID uuid, String serial, Path file, String pollMicros) {
        return disk(label, uuid, serial, file, DISK_BYTES,
                Map.of(SimBlkParent.NUM_QUEUES, Integer.toString(QUEUES), POLL_US, pollMicros));
    }

    /** The guest's name for the disk with this serial (vda, ...): PCI order decides it, not the command line. */
    private static String devWithSerial(GuestResults results, String serial) {
        List<String> devs = results.blockDevices().stream().filter(d -> d.serial().equals(Optional.of(serial)))
                .map(BlockDevice::dev).distinct().toList();
        assertEquals(1, devs.size(), () -> "one disk with serial " + serial + ": " + results.blockDevices());
        return devs.getFirst();
    }

    private static Path logDir(QemuPeer peer) {
        return peer.logDirectory();
    }

    /** The guest bound virtio_blk to umdev's virtio-pci function and saw a live modern device. */
    private static void assertUmdevDisk(GuestResults results, String serial, long bytes) {
        BlockDevice device = results.blockDevices().stream().filter(d -> d.serial().equals(Optional.of(serial)))
                .findFirst().orElseThrow(() -> new AssertionError("no disk with serial " + serial + ": " + results));
        assertEquals(bytes, device.bytes());
        String slot = device.transport().orElseThrow();
        PciDevice function = results.pciDevice(slot).orElseThrow(() -> new AssertionError("no PCI line for " + slot));
        assertEquals(PciDevice.VENDOR_VIRTIO, function.vendor());
        assertEquals(MODERN_VIRTIO_PCI_BASE + VirtioDevice.ID_BLOCK, function.device());
        assertEquals(Optional.of("virtio-pci"), function.driver());
        assertTrue(function.hasCapability(PciDevice.CAP_MSIX), function::toString);
        VirtioDevice virtio = results.virtioDevices().stream().filter(d -> d.transport().equals(Optional.of(slot)))
                .findFirst().orElseThrow();
        assertEquals(VirtioDevice.ID_BLOCK, virtio.deviceId());
        assertEquals(Optional.of("virtio_blk"), virtio.driver());
        assertTrue(virtio.isLive(), () -> "status 0x" + Integer.toHexString(virtio.status()));
        assertTrue(virtio.hasFeature(VirtioDevice.F_VERSION_1));
    }

    private static void assertIntegrityInFile(BlockIntegrity integrity, Path file) throws IOException {
        assertTrue(integrity.verified(), integrity::toString);
        assertEquals(0, integrity.mismatchedBlocks());
        assertEquals(integrity.crc32(), integrity.readCrc32());
        assertEquals(integrity.crc32(), DiskImage.crc32(file, integrity.offset(), integrity.bytes()),
                "the pattern the guest wrote is what the backing file holds");
    }

    /**
     * Every round verified its pattern in the guest; the file holds the last round's (each round writes the
     * same seeded pattern, and integrity is the last thing a round does).
     */
    private static void assertIntegrityInFile(List<BlockReport> rounds, Path file) throws IOException {
        for (BlockReport round : rounds) {
            assertTrue(round.integrity().verified(), round.integrity()::toString);
            assertEquals(0, round.integrity().mismatchedBlocks());
            assertEquals(round.integrity().crc32(), round.integrity().readCrc32());
        }
        assertIntegrityInFile(rounds.getLast().integrity(), file);
    }

    /** The bytes the guest wrote to a disk in all rounds, by its own reports (warm-up I/Os not counted). */
    private static long guestWrites(List<BlockReport> rounds) {
        return rounds.stream().mapToLong(r -> r.sequentialWrite().bytes()
                + r.randomWrite().ops() * r.randomWrite().blockSize() + r.integrity().bytes()).sum();
    }

    /** The daemon's counters for one umdev disk of the comparison: no error, no reset, every write arrived. */
    private static void assertServed(Map<String, Long> counters, List<BlockReport> rounds) {
        assertEquals(0L, counters.get("io_errors"), counters::toString);
        assertEquals(0L, counters.get("device.needs_reset"), counters::toString);
        long guestWrites = guestWrites(rounds);
        assertTrue(counters.get("written_bytes") >= guestWrites,
                () -> "the device wrote " + counters.get("written_bytes") + " bytes, the guest at least " + guestWrites);
    }

    private static QemuGuest blockGuest(QemuPeer peer, String name, int sequentialMib, int randomOps) {
        return peer.guest(name).timeout(GUEST_TIMEOUT)
                .workloads(Workload.PCI, Workload.VIRTIO, Workload.BLK)
                .guestParam("blk.devs", "vda")
                .guestParam("blk.seq_mib", sequentialMib)
                .guestParam("blk.rand_ops", randomOps)
                .guestParam("blk.integrity_mib", INTEGRITY_MIB)
                .guestParam("blk.seed", "0x" + Long.toHexString(SEED));
    }

    /**
     * One guest, three disks of the same kind of zero-filled file: umdev with adaptive polling (blk0), umdev
     * without (blk1) and QEMU's own virtio-blk-pci, measured in {@link #ROUNDS} interleaved rounds.
     */
    @Test
    void guestKeepsItsDataInTheBackingFileAndIsMeasuredBesideQemusOwnVirtioBlk(QemuPeer peer, @TempDir Path dir,
            TestInfo test) throws Exception {
        Path polledFile = DiskImage.zeroFilled(dir.resolve("umdev-polled.img"), DISK_BYTES);
        Path notPolledFile = DiskImage.zeroFilled(dir.resolve("umdev-not-polled.img"), DISK_BYTES);
        Path qemuFile = DiskImage.zeroFilled(dir.resolve("qemu.img"), DISK_BYTES);
        List<UmdevDaemon.Instance> disks = List.of(
                comparedDisk(LABEL, BLK0, SERIAL, polledFile, POLLED_US),
                comparedDisk(LABEL_NOT_POLLED, BLK1, SERIAL_NOT_POLLED, notPolledFile, NOT_POLLED_US));
        GuestRun run;
        Duration daemonCpu;
        Duration wall;
        Map<String, Long> polledCounters;
        Map<String, Long> notPolledCounters;
        try (UmdevDaemon daemon = UmdevDaemon.start(dir.resolve("umdev"), logDir(peer), disks)) {
            QemuGuest guest = blockGuest(peer, "blk-comparison", SEQUENTIAL_MIB, RANDOM_OPS)
                    .workloads(Stream.concat(Stream.of(Workload.PCI, Workload.VIRTIO),
                            Collections.nCopies(ROUNDS, Workload.BLK).stream()).toArray(Workload[]::new))
                    // All three disks, each round in this order; which is which the serials tell afterwards.
                    .guestParam("blk.devs", "vda,vdb,vdc")
                    .vfioUserDevice(daemon.socket(LABEL))
                    .vfioUserDevice(daemon.socket(LABEL_NOT_POLLED))
                    .virtioBlkDisk(qemuFile, QEMU_SERIAL);
            Duration cpuBefore = daemon.cpuTime();
            long started = System.nanoTime();
            run = guest.run();
            wall = Duration.ofNanos(System.nanoTime() - started);
            daemonCpu = daemon.cpuTime().minus(cpuBefore);
            polledCounters = daemon.statistics(BLK0);
            notPolledCounters = daemon.statistics(BLK1);
        }

        GuestResults results = run.results();
        assertTrue(results.succeeded(), run::describe);
        assertUmdevDisk(results, SERIAL, DISK_BYTES);
        assertUmdevDisk(results, SERIAL_NOT_POLLED, DISK_BYTES);
        List<BlockReport> polled = results.blockRounds(devWithSerial(results, SERIAL));
        List<BlockReport> notPolled = results.blockRounds(devWithSerial(results, SERIAL_NOT_POLLED));
        List<BlockReport> qemu = results.blockRounds(devWithSerial(results, QEMU_SERIAL));
        for (List<BlockReport> rounds : List.of(polled, notPolled, qemu)) {
            assertEquals(ROUNDS, rounds.size(), () -> "rounds: " + rounds);
        }
        assertIntegrityInFile(polled, polledFile);
        assertIntegrityInFile(notPolled, notPolledFile);
        assertIntegrityInFile(qemu, qemuFile);
        assertServed(polledCounters, polled);
        assertServed(notPolledCounters, notPolled);

        BlockComparison comparison = new BlockComparison(run.accel(), polled, notPolled, qemu, WARMUP_ROUNDS, daemonCpu,
                wall);
        String table = comparison.table();
        LOG.info("umdev polled:\n{}\numdev not polled:\n{}\nQEMU:\n{}\n{}sequential read umdev/QEMU = {} (target >= 1.0)",
                summaries(polled), summaries(notPolled), summaries(qemu), table,
                "%.2f".formatted(comparison.sequentialReadRatio()));
        Files.writeString(peer.logDirectory().resolve("blk-comparison.md"),
                "# " + test.getDisplayName() + " at " + Instant.now() + "\n\n" + table);
    }

    private static String summaries(List<BlockReport> rounds) {
        return rounds.stream().map(r -> "  " + r.summary()).collect(Collectors.joining("\n"));
    }

    @Test
    void guestRebootsAndItsDiskWorksAgainAfterTheReset(QemuPeer peer, @TempDir Path dir) throws Exception {
        Path file = DiskImage.zeroFilled(dir.resolve("reboot.img"), REBOOT_DISK_BYTES);
        GuestRun run;
        Map<String, Long> counters;
        try (UmdevDaemon daemon = UmdevDaemon.start(dir.resolve("umdev"), logDir(peer), List.of(disk(file, REBOOT_DISK_BYTES)))) {
            run = peer.guest("reboot").timeout(GUEST_TIMEOUT).allowReboot()
                    .workloads(Workload.PCI, Workload.VIRTIO, Workload.BLK, Workload.REBOOT, Workload.PCI,
                            Workload.VIRTIO, Workload.BLK)
                    .guestParam("reboot.dev", "vda")
                    .guestParam("blk.seq_mib", 16)
                    .guestParam("blk.rand_ops", 200)
                    .guestParam("blk.integrity_mib", INTEGRITY_MIB)
                    .vfioUserDevice(daemon.socket(LABEL)).run();
            counters = daemon.statistics(BLK0);
            assertTrue(daemon.isAlive());
        }
        List<GuestResults> boots = run.results().boots();
        assertEquals(2, boots.size(), () -> "expected two boots: " + run.describe());
        GuestResults first = boots.get(0);
        GuestResults second = boots.get(1);
        assertEquals(1L, first.bootCount().orElseThrow());
        assertTrue(first.first(ResultKind.REBOOT).isPresent(), "the first boot rebooted");
        assertTrue(first.errors().isEmpty(), first::toString);
        assertFalse(first.ended(), "the first boot did not power off");
        assertEquals(2L, second.bootCount().orElseThrow(), "the second boot read the count the first one wrote");
        assertTrue(second.succeeded(), run::describe);
        for (GuestResults boot : boots) {
            assertUmdevDisk(boot, SERIAL, REBOOT_DISK_BYTES);
            assertTrue(boot.block("vda").integrity().verified());
        }
        assertIntegrityInFile(second.block("vda").integrity(), file);
        assertEquals(0L, counters.get("device.needs_reset"), counters::toString);

        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer block = ByteBuffer.allocate(BOOT_BLOCK).order(ByteOrder.LITTLE_ENDIAN);
            channel.read(block, REBOOT_DISK_BYTES - BOOT_BLOCK);
            assertEquals(GuestPattern.BOOT_MAGIC, block.getLong(0), "the boot block is in the file");
            assertEquals(2L, block.getLong(Long.BYTES), "and counts two boots");
        }
    }

    @Test
    void qemuKilledMidWriteLosesNoAcknowledgedBlockAndTheNextQemuAttaches(QemuPeer peer, @TempDir Path dir)
            throws Exception {
        Path file = DiskImage.zeroFilled(dir.resolve("acked.img"), DISK_BYTES);
        try (UmdevDaemon daemon = UmdevDaemon.start(dir.resolve("umdev"), logDir(peer), List.of(disk(file, DISK_BYTES)))) {
            GuestRun killed;
            try (RunningGuest writer = peer.guest("writer").timeout(GUEST_TIMEOUT).workloads(Workload.BLK_ACKED)
                    .guestParam("blk.devs", "vda").guestParam("blk.seed", "0x" + Long.toHexString(ACK_SEED))
                    .vfioUserDevice(daemon.socket(LABEL)).start()) {
                Instant deadline = Instant.now().plus(ACK_WAIT);
                while (writer.resultsSoFar().ackedBlocks().size() < ACKS_BEFORE_KILL) {
                    assertFalse(writer.resultsSoFar().ended(), "the writer finished before it was killed");
                    assertTrue(Instant.now().isBefore(deadline), () -> "fewer than " + ACKS_BEFORE_KILL
                            + " acknowledged blocks within " + ACK_WAIT + ": " + writer.resultsSoFar());
                    Thread.sleep(20);
                }
                writer.kill();
                killed = writer.await();
            }
            assertEquals(GuestRun.Outcome.QEMU_EXITED, killed.outcome(), killed::describe);
            assertEquals(Optional.of("SIGKILL"), killed.killedBy());
            assertTrue(daemon.isAlive(), "umdevd survived its client's SIGKILL");

            List<AckedBlock> acked = killed.results().ackedBlocks();
            assertTrue(acked.size() >= ACKS_BEFORE_KILL);
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                for (int i = 0; i < acked.size(); i++) {
                    AckedBlock block = acked.get(i);
                    assertEquals(i, block.sequence(), "acknowledged in order");
                    ByteBuffer onDisk = ByteBuffer.allocate(GuestPattern.ACKED_BLOCK_BYTES);
                    channel.read(onDisk, block.offset());
                    assertArrayEquals(GuestPattern.ackedBlock(ACK_SEED, block.sequence()), onDisk.array(),
                            () -> "acknowledged block " + block + " is not in the file");
                }
            }
            LOG.info("{} blocks acknowledged before SIGKILL, every one in the file", acked.size());

            GuestRun next = blockGuest(peer, "after-kill", 16, 200).vfioUserDevice(daemon.socket(LABEL)).run();
            assertTrue(next.results().succeeded(), next::describe);
            assertUmdevDisk(next.results(), SERIAL, DISK_BYTES);
            assertIntegrityInFile(next.results().block("vda").integrity(), file);
            assertEquals(0L, daemon.counter(BLK0, "device.needs_reset"));
        }
    }
}

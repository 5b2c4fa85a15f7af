package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
 * A hostile guest against one device of the daemon while another guest uses a second device: the hostile
 * guest takes its virtio-blk function away from virtio-pci and puts a descriptor loop on queue 0. That device
 * alone goes NEEDS_RESET (the guest reads it in the status register, the daemon counts it); the other guest's
 * disk keeps serving its whole workload, and after the hostile guest resets its device and gives it back to
 * virtio_blk, that disk works again too.
 */
@QemuPeerTest
class MalformedVirtioGuestIT {

    private static final Logger LOG = LoggerFactory.getLogger(MalformedVirtioGuestIT.class);
    private static final UUID BROKEN = UUID.fromString("b1c00000-0000-4000-8000-0000000000b0");
    private static final UUID HEALTHY = UUID.fromString("b1c00000-0000-4000-8000-0000000000b1");
    private static final long DISK_BYTES = 256L << 20;
    private static final int INTEGRITY_MIB = 16;
    private static final String NEEDS_RESET = "device.needs_reset";
    private static final Duration GUEST_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration BREAK_WAIT = Duration.ofMinutes(3);

    /** Enough 4 KiB I/Os that the healthy guest is still working when the other device breaks. */
    private static final int HEALTHY_RANDOM_OPS = 20000;

    private static void awaitLine(RunningGuest guest, ResultKind kind) throws InterruptedException {
        Instant deadline = Instant.now().plus(BREAK_WAIT);
        while (guest.resultsSoFar().first(kind).isEmpty()) {
            assertFalse(guest.resultsSoFar().ended(), () -> guest.name() + " ended early: " + guest.resultsSoFar());
            assertTrue(Instant.now().isBefore(deadline), () -> guest.name() + " printed no " + kind.tag() + " line");
            Thread.sleep(20);
        }
    }

    private static UmdevDaemon.Instance disk(String label, UUID uuid, Path file) {
        return new UmdevDaemon.Instance(label, uuid, "sim-blk", "blk",
                Map.of("capacity", Long.toString(DISK_BYTES), "backing_file", file.toString()));
    }

    @Test
    void descriptorLoopBreaksOnlyThatDeviceAndTheOtherGuestFinishesItsWorkload(QemuPeer peer, @TempDir Path dir)
            throws Exception {
        Path brokenFile = DiskImage.zeroFilled(dir.resolve("broken.img"), DISK_BYTES);
        Path healthyFile = DiskImage.zeroFilled(dir.resolve("healthy.img"), DISK_BYTES);
        try (UmdevDaemon daemon = UmdevDaemon.start(dir.resolve("umdev"), peer.logDirectory(),
                List.of(disk("blk0", BROKEN, brokenFile), disk("blk1", HEALTHY, healthyFile)))) {
            GuestRun hostile;
            GuestRun healthy;
            long healthyOpsWhenBroken;
            // The healthy guest runs a long block workload; the hostile one starts once that is under way.
            try (RunningGuest worker = peer.guest("healthy").timeout(GUEST_TIMEOUT)
                    .workloads(Workload.PCI, Workload.VIRTIO, Workload.BLK)
                    .guestParam("blk.seq_mib", 256).guestParam("blk.rand_ops", HEALTHY_RANDOM_OPS)
                    .guestParam("blk.integrity_mib", INTEGRITY_MIB)
                    .vfioUserDevice(daemon.socket("blk1")).start()) {
                awaitLine(worker, ResultKind.BLK_SEQ);
                try (RunningGuest breaker = peer.guest("hostile").timeout(GUEST_TIMEOUT)
                        .workloads(Workload.PCI, Workload.VIRTIO_LOOP, Workload.VIRTIO, Workload.BLK)
                        .guestParam("loop.id", VirtioDevice.ID_BLOCK)
                        .guestParam("blk.seq_mib", 16).guestParam("blk.rand_ops", 200)
                        .guestParam("blk.integrity_mib", INTEGRITY_MIB)
                        .vfioUserDevice(daemon.socket("blk0")).start()) {
                    Instant deadline = Instant.now().plus(BREAK_WAIT);
                    while (daemon.counter(BROKEN, NEEDS_RESET) == 0) {
                        assertTrue(Instant.now().isBefore(deadline), () -> "blk0 never went NEEDS_RESET: "
                                + breaker.resultsSoFar());
                        Thread.sleep(20);
                    }
                    Map<String, Long> atBreak = daemon.statistics(HEALTHY);
                    healthyOpsWhenBroken = atBreak.get("reads") + atBreak.get("writes");
                    assertEquals(0L, atBreak.get(NEEDS_RESET), "the other device is untouched");
                    LOG.info("blk0 went NEEDS_RESET with blk1 at {} requests; the healthy guest {}", healthyOpsWhenBroken,
                            worker.resultsSoFar().ended() ? "had already finished" : "was still working");
                    hostile = breaker.await();
                }
                healthy = worker.await();
            }
            assertTrue(daemon.isAlive(), "umdevd survived the malformed ring");

            VirtioLoop loop = hostile.results().virtioLoop().orElseThrow(() -> new AssertionError(hostile.describe()));
            assertTrue(loop.needsReset(), loop::toString);
            assertEquals(0, loop.usedIndex(), "the device completed nothing from the loop");
            assertEquals(0, loop.statusAfterReset(), "the reset completed");
            assertTrue(loop.rebound());
            // After the reset, virtio_blk took the device back and the whole block workload passed on it.
            assertTrue(hostile.results().succeeded(), hostile::describe);
            VirtioDevice again = hostile.results().virtioDevices().stream()
                    .filter(d -> d.transport().equals(Optional.of(loop.slot()))).findFirst().orElseThrow();
            assertTrue(again.isLive(), again::toString);
            assertEquals(Optional.of("virtio_blk"), again.driver());
            BlockIntegrity recovered = hostile.results().block("vda").integrity();
            assertTrue(recovered.verified());
            assertEquals(recovered.crc32(), DiskImage.crc32(brokenFile, 0, recovered.bytes()));

            assertTrue(healthy.results().succeeded(), healthy::describe);
            BlockIntegrity integrity = healthy.results().block("vda").integrity();
            assertTrue(integrity.verified());
            assertEquals(integrity.crc32(), DiskImage.crc32(healthyFile, 0, integrity.bytes()));

            Map<String, Long> broken = daemon.statistics(BROKEN);
            Map<String, Long> other = daemon.statistics(HEALTHY);
            assertEquals(1L, broken.get(NEEDS_RESET), broken::toString);
            assertEquals(0L, other.get(NEEDS_RESET), other::toString);
            assertEquals(0L, other.get("io_errors"), other::toString);
            assertTrue(other.get("reads") + other.get("writes") > healthyOpsWhenBroken,
                    "the other device served requests after blk0 broke");
            assertTrue(daemon.log().contains("needs reset"), "the daemon logged why");
        }
    }
}

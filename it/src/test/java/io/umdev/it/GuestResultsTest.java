package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The parser against a console transcript recorded from a real guest run (kernel output, escapes, CRLF and all). */
class GuestResultsTest {

    private static final String TRANSCRIPT = "console-pci-virtio-blk.txt";

    private static GuestResults recorded() throws IOException {
        try (InputStream in = GuestResultsTest.class.getResourceAsStream(TRANSCRIPT)) {
            if (in == null) {
                throw new IOException("missing test resource " + TRANSCRIPT);
            }
            return GuestResults.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList());
        }
    }

    @Test
    void picksTheResultLinesOutOfAConsoleTranscript() throws IOException {
        GuestResults results = recorded();

        assertTrue(results.ended());
        assertTrue(results.succeeded());
        assertEquals(GuestResults.PROTOCOL, results.protocol());
        assertEquals("6.12.107+deb13-amd64", results.kernelRelease());
        assertEquals(List.of("virtio_blk", "failover", "net_failover", "virtio_net"), results.loadedModules());
        assertEquals(List.of(), results.errors());
    }

    @Test
    void parsesPciFunctionsWithBarsCapabilitiesAndDriver() throws IOException {
        GuestResults results = recorded();

        assertEquals(5, results.pciDevices().size());
        PciDevice disk = results.pciDevice("0000:00:01.0").orElseThrow();
        assertEquals(PciDevice.VENDOR_VIRTIO, disk.vendor());
        assertEquals(0x1001, disk.device());
        assertEquals(0x010000, disk.classCode());
        assertEquals(0x01, disk.baseClass());
        assertEquals(Optional.of("virtio-pci"), disk.driver());
        assertEquals(new PciDevice.Bar("0", PciDevice.BarType.IO, false, 0xc000, 0x80), disk.bar("0").orElseThrow());
        assertEquals(new PciDevice.Bar("4", PciDevice.BarType.MEM64, true, 0xfebf8000L, 0x4000), disk.bar("4").orElseThrow());
        assertEquals(new PciDevice.Capability(PciDevice.CAP_MSIX, 0x98), disk.capabilities().getFirst());
        assertEquals(5, disk.capabilityCount(PciDevice.CAP_VENDOR_SPECIFIC));

        PciDevice hostBridge = results.pciDevice("0000:00:00.0").orElseThrow();
        assertEquals(0x0600, hostBridge.classAndSubclass());
        assertEquals(Optional.empty(), hostBridge.driver());
        assertEquals(List.of(), hostBridge.bars());
    }

    @Test
    void parsesVirtioStatusAndNegotiatedFeatures() throws IOException {
        VirtioDevice blk = recorded().virtioDevices().getFirst();

        assertEquals(VirtioDevice.ID_BLOCK, blk.deviceId());
        assertEquals(0x0f, blk.status());
        assertTrue(blk.isLive());
        assertTrue(blk.hasFeature(VirtioDevice.F_VERSION_1));
        assertEquals(Optional.of("0000:00:01.0"), blk.transport());
        assertEquals(Optional.of("virtio_blk"), blk.driver());
    }

    @Test
    void assemblesTheBlockReportOfOneDisk() throws IOException {
        BlockReport report = recorded().block("vda");

        assertEquals(new BlockDevice("vda", 268_435_456L, 512, Optional.of("base0"), Optional.of("0000:00:01.0")), report.device());
        assertEquals(IoDirection.WRITE, report.sequentialWrite().direction());
        assertEquals(494.5, report.sequentialWrite().mbPerSecond());
        assertEquals(1710.7, report.sequentialRead().mbPerSecond());
        assertEquals(4000, report.randomRead().ops());
        assertEquals(3962, report.randomRead().iops());
        assertEquals(new Latency(252.0, 236.4, 318.1, 517.6, 4857.7), report.randomRead().latency());
        assertTrue(report.randomWrite().latency().isMonotonic());
        assertEquals(new BlockIntegrity("vda", 0, 16_777_216L, 0x756d646576L, 0xcf2f0ac3L, 0xcf2f0ac3L, 0, true), report.integrity());
    }

    @Test
    void missingBlockLineNamesWhatIsMissingAndTheGuestsErrors() {
        GuestResults results = GuestResults.parse(List.of(
                "@umdev begin protocol=1 kernel=6.12 workload=blk",
                "@umdev blk-dev dev=vda bytes=1048576 logical_block=512 serial=- transport=-",
                "@umdev error workload=blk step=seq-write subject=vda errno=5 reason=Input/output_error",
                "@umdev end status=failed errors=1"));

        MalformedResultException e = assertThrows(MalformedResultException.class, () -> results.block("vda"));

        assertTrue(e.getMessage().contains("'blk-seq' line for vda sequential write"), e.getMessage());
        assertTrue(e.getMessage().contains("step=seq-write"), e.getMessage());
        assertTrue(results.ended());
        assertFalse(results.succeeded());
    }

    /** One blk round's lines for {@code dev}, its figures scaled by {@code round} so that rounds differ. */
    private static List<String> blkRound(String dev, int round) {
        return List.of(
                "@umdev blk-dev dev=%s bytes=268435456 logical_block=512 serial=s-%s transport=-".formatted(dev, dev),
                "@umdev blk-seq dev=%s op=write bs=1048576 bytes=268435456 seconds=1.0 mb_per_s=%d.0".formatted(dev, 100 * round),
                "@umdev blk-seq dev=%s op=read bs=1048576 bytes=268435456 seconds=1.0 mb_per_s=%d.5".formatted(dev, 100 * round),
                "@umdev blk-rand dev=%s op=write bs=4096 ops=2000 seconds=1.0 iops=%d avg_us=1 p50_us=1 p90_us=2 p99_us=3 max_us=4"
                        .formatted(dev, 10 * round),
                "@umdev blk-rand dev=%s op=read bs=4096 ops=2000 seconds=1.0 iops=%d avg_us=1 p50_us=1 p90_us=2 p99_us=3 max_us=4"
                        .formatted(dev, 20 * round),
                "@umdev blk-integrity dev=%s offset=0 bytes=16777216 seed=0x1 crc32=0x%x read_crc32=0x%x mismatched_blocks=0 verified=yes"
                        .formatted(dev, round, round));
    }

    @Test
    void repeatedBlkWorkloadGivesEveryDiskOneReportPerRoundInOrder() {
        List<String> console = new ArrayList<>(List.of("@umdev begin protocol=1 kernel=6.12 workload=blk,blk"));
        for (int round = 1; round <= 2; round++) {
            console.addAll(blkRound("vda", round));
            console.add("[   12.345678] kernel noise between disks");
            console.addAll(blkRound("vdb", round));
        }
        console.add("@umdev end status=ok errors=0");
        GuestResults results = GuestResults.parse(console);

        List<BlockReport> vdb = results.blockRounds("vdb");

        assertEquals(2, vdb.size());
        assertEquals(List.of(100.5, 200.5), vdb.stream().map(r -> r.sequentialRead().mbPerSecond()).toList());
        assertEquals(List.of(20.0, 40.0), vdb.stream().map(r -> r.randomRead().iops()).toList());
        assertEquals(List.of(1L, 2L), vdb.stream().map(r -> r.integrity().crc32()).toList());
        assertTrue(vdb.stream().allMatch(r -> r.device().dev().equals("vdb") && r.sequentialWrite().dev().equals("vdb")));
        assertEquals(vdb.getFirst(), results.block("vdb"), "block(dev) is the first round");
        assertEquals(List.of(results.block("vda")), results.blockRounds("vda").subList(0, 1));
    }

    @Test
    void roundThatFailedHalfwayIsNamedAndLendsNoLinesToTheNextRound() {
        List<String> console = new ArrayList<>(List.of("@umdev begin protocol=1 kernel=6.12 workload=blk,blk"));
        console.addAll(blkRound("vda", 1).subList(0, 2));
        console.add("@umdev error workload=blk step=seq-read subject=/dev/vda errno=5 reason=Input/output_error");
        console.addAll(blkRound("vda", 2));
        GuestResults results = GuestResults.parse(console);

        MalformedResultException e = assertThrows(MalformedResultException.class, () -> results.blockRounds("vda"));

        assertTrue(e.getMessage().contains("'blk-seq' line for vda sequential read in round 1"), e.getMessage());
        assertTrue(e.getMessage().contains("step=seq-read"), e.getMessage());
    }

    @Test
    void diskWithoutBlkLinesHasNoRounds() {
        GuestResults results = GuestResults.parse(blkRound("vda", 1));

        MalformedResultException e = assertThrows(MalformedResultException.class, () -> results.blockRounds("vdb"));

        assertTrue(e.getMessage().contains("'blk-dev' line for vdb"), e.getMessage());
    }

    @Test
    void guestWithoutEndMarkerHasNotEnded() {
        GuestResults results = GuestResults.parse(List.of("@umdev begin protocol=1 kernel=6.12 workload=pci", "Kernel panic"));

        assertFalse(results.ended());
        assertFalse(results.succeeded());
    }

    @Test
    void parsesNetLinkPingAndThroughput() {
        GuestResults results = GuestResults.parse(List.of(
                "@umdev net-link dev=eth0 mac=52:54:00:00:00:01 operstate=up carrier=1 mtu=1500 transport=0000:00:01.0",
                "@umdev net-ping peer=169.254.0.2 sent=5 received=5 min_ms=0.512 avg_ms=0.771 max_ms=1.203",
                "@umdev net-tcp role=send peer=169.254.0.2 bytes=67108864 seconds=1.5 mbit_per_s=357.9"));

        NetLink link = results.netLink().orElseThrow();
        assertTrue(link.carrier());
        assertEquals("up", link.operState());
        NetPing ping = results.netPing().orElseThrow();
        assertEquals(5, ping.received());
        assertEquals(new NetPing.RoundTrip(0.512, 0.771, 1.203), ping.roundTrip().orElseThrow());
        assertEquals(357.9, results.netThroughput().orElseThrow().mbitPerSecond());
    }

    @Test
    void pingWithoutRepliesHasNoRoundTrip() {
        GuestResults results = GuestResults.parse(List.of(
                "@umdev net-ping peer=169.254.0.2 sent=5 received=0 min_ms=- avg_ms=- max_ms=-"));

        assertEquals(Optional.empty(), results.netPing().orElseThrow().roundTrip());
    }
}

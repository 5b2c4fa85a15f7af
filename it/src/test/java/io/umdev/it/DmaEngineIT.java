package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.emudev.EmuDevice;
import io.umdev.emudev.sample.DmaEngine;
import io.umdev.emudev.vfiouser.VfioUserAdapter;
import io.umdev.vfiouser.server.ServerOptions;
import io.umdev.vfiouser.server.VfioUserServer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * umdev's sample DMA engine, served over vfio-user by emudev's adapter, driven by an unmodified Linux guest
 * in QEMU 11.1: the guest finds the device, maps its BARs, programs its registers and checks what it did to
 * guest memory; the test checks the same memory from the host side.
 */
@QemuPeerTest
class DmaEngineIT {
    private static final Logger LOG = LoggerFactory.getLogger(DmaEngineIT.class);
    /** Operations the guest's dma workload runs. */
    private static final int GUEST_OPERATIONS = 7;
    private static final List<String> VERIFIED_OPERATIONS =
            List.of("copy", "fill", "from-scratch", "to-scratch", "fault", "no-master", "copy-final");
    private static final long SEED = 0x5eed5eedL;
    private static final int EFAULT = 14;
    private static final int EPERM = 1;
    private static final Duration WAIT = Duration.ofMinutes(2);

    private static VfioUserServer serve(DmaEngine engine, Path dir) throws Exception {
        return VfioUserServer.start(dir.resolve("dma0.sock"), new VfioUserAdapter(engine.device()), ServerOptions.defaults());
    }

    /** Waits (bounded) until the engine has finished {@code count} commands in total. */
    private static void awaitCommands(DmaEngine engine, long count) throws InterruptedException {
        Instant deadline = Instant.now().plus(WAIT);
        while (engine.completedCommands() < count) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("the engine finished " + engine.completedCommands() + " of " + count + " commands");
            }
            Thread.sleep(50);
        }
    }

    private static void assertEveryOperationVerified(GuestRun run) {
        List<String> ops = run.results().dmaOperations().stream().map(DmaOperation::op).toList();
        assertEquals(VERIFIED_OPERATIONS, ops, run::describe);
        for (DmaOperation op : run.results().dmaOperations()) {
            assertTrue(op.verified(), () -> "the guest found operation " + op + " wrong");
        }
        assertEquals(EFAULT, run.results().dmaOperation("fault").error());
        assertEquals(EPERM, run.results().dmaOperation("no-master").error());
    }

    @Test
    void guestDrivesTheEngineAndTheHostSeesTheResultInGuestMemory(QemuPeer peer, @TempDir Path dir) throws Exception {
        try (DmaEngine engine = new DmaEngine("dma0"); VfioUserServer server = serve(engine, dir)) {
            RunningGuest guest = peer.guest("dma-engine").workloads(Workload.PCI, Workload.DMA)
                    .vfioUserDevice(server.socketPath()).guestParam("dma.seed", "0x" + Long.toHexString(SEED))
                    .guestParam("dma.hold_s", 5).start();
            GuestRun run;
            long hostCrc;
            try (guest) {
                awaitCommands(engine, GUEST_OPERATIONS);
                // While the guest holds: read what the engine last wrote, straight from guest RAM (the memfd QEMU mapped).
                DmaEngine.Transfer last = engine.lastTransfer();
                MemorySegment bytes = MemorySegment.ofArray(new byte[(int) last.length()]);
                engine.device().dma().read(last.dst(), bytes);
                CRC32 crc = new CRC32();
                crc.update(bytes.toArray(ValueLayout.JAVA_BYTE));
                hostCrc = crc.getValue();
                run = guest.await();
            }
            run.requireCompleted();
            assertTrue(run.results().succeeded(), run::describe);

            PciDevice pci = run.results().pciDevices().stream()
                    .filter(d -> d.vendor() == DmaEngine.VENDOR_ID && d.device() == DmaEngine.DEVICE_ID)
                    .findFirst().orElseThrow(() -> new AssertionError("the guest does not see the engine: " + run.describe()));
            LOG.info("guest sees the engine at {}: {}", pci.slot(), pci);
            assertEquals(DmaEngine.CLASS_CODE, pci.classCode());
            assertEquals(DmaEngine.VENDOR_ID, pci.subsystemVendor());
            PciDevice.Bar registers = pci.bar(String.valueOf(DmaEngine.REGISTER_BAR)).orElseThrow();
            PciDevice.Bar scratch = pci.bar(String.valueOf(DmaEngine.SCRATCH_BAR)).orElseThrow();
            assertEquals(DmaEngine.REGISTER_BAR_SIZE, registers.size());
            assertEquals(PciDevice.BarType.MEM32, registers.type());
            assertFalse(registers.prefetchable());
            assertEquals(DmaEngine.SCRATCH_SIZE, scratch.size());
            assertEquals(PciDevice.BarType.MEM64, scratch.type());
            assertTrue(scratch.prefetchable());
            assertEquals(2, pci.bars().size(), pci::toString);
            assertTrue(pci.hasCapability(PciDevice.CAP_MSIX), pci::toString);

            assertEveryOperationVerified(run);
            DmaOperation last = run.results().dmaOperation("copy-final");
            assertEquals(last.crc32(), hostCrc, "guest and host disagree on the bytes the engine wrote");
            assertEquals(GUEST_OPERATIONS, engine.completedCommands());
        }
    }

    @Test
    void serverKeepsServingAfterQemuIsKilledAndTheNextQemuSeesTheDeviceAgain(QemuPeer peer, @TempDir Path dir)
            throws Exception {
        try (DmaEngine engine = new DmaEngine("dma0"); VfioUserServer server = serve(engine, dir)) {
            RunningGuest first = peer.guest("killed").workloads(Workload.DMA).vfioUserDevice(server.socketPath())
                    .guestParam("dma.hold_s", 600).start();
            try (first) {
                awaitCommands(engine, GUEST_OPERATIONS);
                assertTrue(server.hasClient());
                first.kill();
                GuestRun killed = first.await();
                assertEquals(GuestRun.Outcome.QEMU_EXITED, killed.outcome(), killed::describe);
            }
            assertTrue(server.awaitNoClient(30, TimeUnit.SECONDS), "the server noticed the client is gone");
            assertEquals(EmuDevice.State.STOPPED, engine.device().state());
            assertEquals(0, engine.device().dma().size(), "the dead client's memory is unmapped");
            assertFalse(engine.device().interrupts().index(2).hasTrigger(0), "the dead client's eventfds are closed");

            GuestRun second = peer.guest("after-kill").workloads(Workload.PCI, Workload.DMA)
                    .vfioUserDevice(server.socketPath()).run();
            second.requireCompleted();
            assertTrue(second.results().succeeded(), second::describe);
            assertEveryOperationVerified(second);
            assertEquals(2L * GUEST_OPERATIONS, engine.completedCommands());
        }
    }

    @Test
    void secondQemuIsRefusedCleanlyWhileTheFirstCarriesOn(QemuPeer peer, @TempDir Path dir) throws Exception {
        try (DmaEngine engine = new DmaEngine("dma0"); VfioUserServer server = serve(engine, dir)) {
            RunningGuest first = peer.guest("first").workloads(Workload.DMA).vfioUserDevice(server.socketPath())
                    .guestParam("dma.hold_s", 20).start();
            GuestRun firstRun;
            try (first) {
                awaitCommands(engine, GUEST_OPERATIONS);
                GuestRun second;
                try (RunningGuest refused = peer.guest("second").workloads(Workload.PCI)
                        .vfioUserDevice(server.socketPath()).start()) {
                    second = refused.await();
                }
                LOG.info("second QEMU: {} exit {} killed by {}: {}", second.outcome(), second.qemuExitCode(),
                        second.killedBy(), second.qemuError());
                assertEquals(GuestRun.Outcome.QEMU_EXITED, second.outcome(), second::describe);
                assertTrue(second.killedBy().isEmpty(), () -> "QEMU crashed instead of failing: " + second.describe());
                assertTrue(second.qemuError().contains("Device or resource busy"), second::qemuError);
                assertTrue(server.hasClient(), "the first client is still connected");
                firstRun = first.await();
            }
            firstRun.requireCompleted();
            assertTrue(firstRun.results().succeeded(), firstRun::describe);
            assertEveryOperationVerified(firstRun);
        }
    }
}

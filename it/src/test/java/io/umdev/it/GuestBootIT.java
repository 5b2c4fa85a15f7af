package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The provisioned guest boots in the QEMU peer and reports what it sees. */
@QemuPeerTest
class GuestBootIT {

    private static final Logger LOG = LoggerFactory.getLogger(GuestBootIT.class);

    /** The q35 chipset's fixed functions: slot, Intel device ID, class and subclass. */
    private record ChipsetFunction(String slot, int device, int classAndSubclass) {
    }

    private static final List<ChipsetFunction> Q35_CHIPSET = List.of(
            new ChipsetFunction("0000:00:00.0", 0x29c0, 0x0600),  // MCH host bridge
            new ChipsetFunction("0000:00:1f.0", 0x2918, 0x0601),  // ICH9 LPC / ISA bridge
            new ChipsetFunction("0000:00:1f.2", 0x2922, 0x0106),  // ICH9 AHCI SATA controller
            new ChipsetFunction("0000:00:1f.3", 0x2930, 0x0c05)); // ICH9 SMBus controller

    @Test
    void guestBootsTheProvisionedKernelAndSeesTheQ35Chipset(QemuPeer peer) {
        GuestRun run = peer.guest("boot").workloads(Workload.PCI, Workload.VIRTIO).run();
        GuestResults results = run.results();
        LOG.info("guest kernel {} under {}: {} PCI functions", results.kernelRelease(), run.accel(), results.pciDevices().size());

        assertTrue(results.succeeded(), () -> "guest reported errors: " + results.errors());
        assertEquals(GuestResults.PROTOCOL, results.protocol());
        assertEquals(peer.provisioning().guestKernelRelease(), results.kernelRelease());
        assertEquals(List.of("virtio_blk", "failover", "net_failover", "virtio_net"), results.loadedModules());
        for (ChipsetFunction expected : Q35_CHIPSET) {
            PciDevice seen = results.pciDevice(expected.slot())
                    .orElseThrow(() -> new AssertionError("no PCI function at " + expected.slot() + " in " + results.pciDevices()));
            assertEquals(PciDevice.VENDOR_INTEL, seen.vendor(), seen::toString);
            assertEquals(expected.device(), seen.device(), seen::toString);
            assertEquals(expected.classAndSubclass(), seen.classAndSubclass(), seen::toString);
        }
        assertEquals(Q35_CHIPSET.size(), results.pciDevices().size(), "-nodefaults q35 has only its chipset");
        assertEquals(List.of(), results.virtioDevices());
    }
}

package io.umdev.emudev.pci;

import static io.umdev.emudev.pci.PciConfigSpaceTest.write;
import static io.umdev.emudev.pci.PciRegisters.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.emudev.Bar;
import io.umdev.emudev.EmuDevice;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Capability lists as a guest walks them, and each capability's registers as a guest writes them. */
class PciCapabilitiesTest {
    private static final PciIds IDS = new PciIds(0x1234, 0x5678, 0x1234, 0x0001, 1, 0x0b4000);
    private static final long ALL_ONES = 0xffffffffL;

    private final List<EmuDevice> devices = new ArrayList<>();

    @AfterEach
    void close() {
        devices.forEach(EmuDevice::close);
    }

    private EmuDevice build(EmuDevice.Builder builder) throws Exception {
        EmuDevice d = builder.build();
        devices.add(d);
        return d;
    }

    /** Walks the standard list from 0x34: capability offset → ID, in list order; fails on a bad pointer or loop. */
    static Map<Integer, Integer> walk(PciConfigSpace config) {
        Map<Integer, Integer> found = new LinkedHashMap<>();
        Set<Integer> seen = new HashSet<>();
        int at = config.get8(CAPABILITY_LIST);
        while (at != 0) {
            assertEquals(0, at % CAP_ALIGNMENT, String.format("capability at 0x%x is not 4-byte aligned", at));
            assertTrue(at >= HEADER_END && at < CONFIG_SIZE, String.format("capability at 0x%x is outside [0x40, 0x100)", at));
            assertTrue(seen.add(at), String.format("the list loops back to 0x%x", at));
            found.put(at, config.get8(at + CAP_ID));
            at = config.get8(at + CAP_NEXT);
        }
        return found;
    }

    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    private EmuDevice everyCapability() throws Exception {
        return build(EmuDevice.builder("caps", IDS)
                .powerManagement()
                .msi(8)
                .msix(16, 0, 0x1000, 0x1800)
                .express()
                .vendorCapability(bytes(0xde, 0xad, 0xbe, 0xef, 0x01), at -> { })
                .bar(Bar.memory32(0, 0x2000)));
    }

    // ---- the chain ----------------------------------------------------------------------------------

    @Test
    void chainHoldsTheCapabilitiesInTheOrderAdded() throws Exception {
        EmuDevice device = everyCapability();
        PciConfigSpace config = device.config();
        assertTrue((config.get16(STATUS) & STATUS_CAPABILITY_LIST) != 0, "status says there is a list");
        Map<Integer, Integer> chain = walk(config);
        assertEquals(List.of(CAP_ID_PM, CAP_ID_MSI, CAP_ID_MSIX, CAP_ID_EXPRESS, CAP_ID_VENDOR),
                List.copyOf(chain.values()));
        chain.forEach((at, id) -> assertEquals(at, device.capability(id), "capability(" + id + ")"));
        assertEquals(HEADER_END, config.get8(CAPABILITY_LIST));
        assertEquals(-1, device.capability(0x0d), "absent capability");
    }

    @Test
    void capabilitiesDoNotOverlap() throws Exception {
        PciConfigSpace config = everyCapability().config();
        Map<Integer, Integer> length = Map.of(CAP_ID_PM, PM_LENGTH, CAP_ID_MSI, MSI_LENGTH_64_MASKED, CAP_ID_MSIX,
                MSIX_LENGTH, CAP_ID_EXPRESS, EXP_LENGTH, CAP_ID_VENDOR, VENDOR_HEADER + 5);
        int end = HEADER_END;
        for (Map.Entry<Integer, Integer> e : walk(config).entrySet()) {
            assertTrue(e.getKey() >= end, String.format("capability 0x%x at 0x%x overlaps the previous one",
                    e.getValue(), e.getKey()));
            end = e.getKey() + length.get(e.getValue());
        }
        assertTrue(end <= CONFIG_SIZE);
    }

    @Test
    void orderFollowsTheBuilderCalls() throws Exception {
        PciConfigSpace config = build(EmuDevice.builder("reordered", IDS)
                .vendorCapability(bytes(1), at -> { })
                .msi(1)
                .powerManagement()
                .vendorCapability(bytes(2, 3), at -> { })
                .bar(Bar.memory32(0, 4096))).config();
        assertEquals(List.of(CAP_ID_VENDOR, CAP_ID_MSI, CAP_ID_PM, CAP_ID_VENDOR), List.copyOf(walk(config).values()));
    }

    @Test
    void pointersAndHeadersAreReadOnly() throws Exception {
        PciConfigSpace config = everyCapability().config();
        byte[] before = config.snapshot();
        Map<Integer, Integer> chain = walk(config);
        write(config, CAPABILITY_LIST, 1, 0);
        write(config, CAPABILITY_LIST, 4, ALL_ONES);
        for (int at : chain.keySet()) {
            write(config, at, 2, 0);
            write(config, at + CAP_NEXT, 1, 0xfc);
        }
        assertEquals(chain, walk(config));
        for (int at : chain.keySet()) {
            assertEquals(before[at], config.snapshot()[at]);
            assertEquals(before[at + 1], config.snapshot()[at + 1]);
        }
    }

    @Test
    void overflowingTheFirst256BytesIsRefused() throws Exception {
        // 0x40 + 4 * 0x30 = 0x100: four 48-byte vendor capabilities fill the space exactly.
        PciConfigSpace config = new PciConfigSpace(CONFIG_SIZE);
        PciCapabilities caps = new PciCapabilities(config);
        for (int i = 0; i < 4; i++) {
            caps.addVendor(new byte[0x30 - VENDOR_HEADER]);
        }
        assertEquals(List.of(0x40, 0x70, 0xa0, 0xd0), List.copyOf(walk(config).keySet()));
        byte[] full = config.snapshot();
        assertThrows(IllegalStateException.class, () -> caps.addPowerManagement());
        assertThrows(IllegalStateException.class, () -> caps.addVendor(new byte[0]));
        assertArrayEquals(full, config.snapshot(), "a refused capability leaves the list as it was");

        assertThrows(IllegalStateException.class, () -> EmuDevice.builder("too-many", IDS)
                .vendorCapability(new byte[150], at -> { })
                .vendorCapability(new byte[100], at -> { })
                .bar(Bar.memory32(0, 4096))
                .build());
        assertThrows(IllegalStateException.class, () -> EmuDevice.builder("too-big", IDS)
                .vendorCapability(new byte[CONFIG_SIZE - HEADER_END - VENDOR_HEADER + 1], at -> { })
                .build());
        // Exactly the remaining space is fine.
        EmuDevice fits = build(EmuDevice.builder("fits", IDS)
                .vendorCapability(new byte[CONFIG_SIZE - HEADER_END - VENDOR_HEADER], at -> { }));
        assertEquals(HEADER_END, fits.capability(CAP_ID_VENDOR));
    }

    // ---- power management --------------------------------------------------------------------------

    @Test
    void powerManagementFields() throws Exception {
        EmuDevice device = everyCapability();
        PciConfigSpace config = device.config();
        int pm = device.capability(CAP_ID_PM);
        assertEquals(PM_VERSION_1_2, config.get16(pm + PM_CAPABILITIES) & 0x7, "PMC version: PM 1.2");
        assertEquals(PM_VERSION_1_2, config.get16(pm + PM_CAPABILITIES), "no D1/D2, no PME support");
        assertEquals(PM_NO_SOFT_RESET, config.get16(pm + PM_CONTROL_STATUS), "D0, No_Soft_Reset");

        write(config, pm + PM_CAPABILITIES, 2, 0xffff);
        assertEquals(PM_VERSION_1_2, config.get16(pm + PM_CAPABILITIES), "PMC is read-only");

        write(config, pm + PM_CONTROL_STATUS, 2, 0x7fff);
        assertEquals(PM_NO_SOFT_RESET | PM_STATE_MASK, config.get16(pm + PM_CONTROL_STATUS),
                "only the power state is writable (D3hot now); PME_En and the rest stay 0");
        write(config, pm + PM_CONTROL_STATUS, 2, 0);
        assertEquals(PM_NO_SOFT_RESET, config.get16(pm + PM_CONTROL_STATUS), "back to D0, No_Soft_Reset kept");
    }

    @Test
    void pmeStatusIsWriteOneToClear() throws Exception {
        EmuDevice device = everyCapability();
        PciConfigSpace config = device.config();
        int pmcsr = device.capability(CAP_ID_PM) + PM_CONTROL_STATUS;
        write(config, pmcsr, 2, PM_PME_STATUS);
        assertEquals(0, config.get16(pmcsr) & PM_PME_STATUS, "the guest cannot set PME status");
        config.setBits(pmcsr, 2, PM_PME_STATUS);
        write(config, pmcsr, 2, 0x3);
        assertEquals(PM_PME_STATUS | PM_NO_SOFT_RESET | 0x3, config.get16(pmcsr), "writing 0 leaves it, state written");
        write(config, pmcsr, 2, PM_PME_STATUS | 0x3);
        assertEquals(PM_NO_SOFT_RESET | 0x3, config.get16(pmcsr), "writing 1 clears it, state unaffected");
    }

    // ---- MSI ---------------------------------------------------------------------------------------

    @Test
    void msiControlHasReadOnlyCapabilitiesAndWritableEnables() throws Exception {
        EmuDevice device = everyCapability();
        PciConfigSpace config = device.config();
        int control = device.capability(CAP_ID_MSI) + MSI_CONTROL;
        int fixed = (3 << MSI_CONTROL_MMC_SHIFT) | MSI_CONTROL_64BIT | MSI_CONTROL_PER_VECTOR_MASK;
        assertEquals(fixed, config.get16(control), "8 vectors (MMC 3), 64-bit, per-vector masking, disabled");
        write(config, control, 2, 0xffff);
        assertEquals(fixed | MSI_CONTROL_ENABLE | MSI_CONTROL_MME_MASK, config.get16(control),
                "enable and MME are writable, nothing else");
        write(config, control, 2, 0);
        assertEquals(fixed, config.get16(control), "MMC, 64-bit and per-vector-mask bits stay");
        write(config, control, 2, MSI_CONTROL_ENABLE | (2 << 4));
        assertEquals(fixed | MSI_CONTROL_ENABLE | (2 << 4), config.get16(control));
    }

    @Test
    void msiAddressDataAndMaskRegisters() throws Exception {
        EmuDevice device = everyCapability();
        PciConfigSpace config = device.config();
        int msi = device.capability(CAP_ID_MSI);
        write(config, msi + MSI_ADDRESS_LO, 4, ALL_ONES);
        assertEquals(0xfffffffcL, config.get32(msi + MSI_ADDRESS_LO), "the address is dword aligned");
        write(config, msi + MSI_ADDRESS_HI, 4, ALL_ONES);
        assertEquals(ALL_ONES, config.get32(msi + MSI_ADDRESS_HI));
        write(config, msi + MSI_DATA_64, 4, ALL_ONES);
        assertEquals(0xffff, config.get16(msi + MSI_DATA_64));
        assertEquals(0, config.get16(msi + MSI_DATA_64 + 2), "the reserved half after the data is read-only");
        write(config, msi + MSI_MASK_64, 4, ALL_ONES);
        assertEquals(0xff, config.get32(msi + MSI_MASK_64), "mask bits only for the 8 vectors");
        write(config, msi + MSI_MASK_64, 4, 0x5);
        assertEquals(0x5, config.get32(msi + MSI_MASK_64));
        write(config, msi + MSI_PENDING_64, 4, ALL_ONES);
        assertEquals(0, config.get32(msi + MSI_PENDING_64), "pending bits are the device's");
    }

    @Test
    void msiVectorCountsAndSizes() {
        for (int vectors : new int[] {1, 2, 4, 8, 16, 32}) {
            PciConfigSpace config = new PciConfigSpace(CONFIG_SIZE);
            PciCapabilities caps = new PciCapabilities(config);
            int at = caps.addMsi(vectors, true);
            int mmc = (config.get16(at + MSI_CONTROL) >>> MSI_CONTROL_MMC_SHIFT) & 0x7;
            assertEquals(vectors, 1 << mmc, "MMC for " + vectors);
            write(config, at + MSI_MASK_64, 4, ALL_ONES);
            assertEquals(vectors == 32 ? ALL_ONES : (1L << vectors) - 1, config.get32(at + MSI_MASK_64));
            int next = caps.addPowerManagement();
            assertEquals(at + MSI_LENGTH_64_MASKED, next, "24 bytes with masking");
        }
        PciConfigSpace config = new PciConfigSpace(CONFIG_SIZE);
        PciCapabilities caps = new PciCapabilities(config);
        int at = caps.addMsi(4, false);
        assertEquals((2 << MSI_CONTROL_MMC_SHIFT) | MSI_CONTROL_64BIT, config.get16(at + MSI_CONTROL));
        assertEquals(at + MSI_LENGTH_64, caps.addPowerManagement(), "16 bytes without masking");
        for (int bad : new int[] {0, 3, 6, 64, -1}) {
            assertThrows(IllegalArgumentException.class, () -> new PciCapabilities(new PciConfigSpace(CONFIG_SIZE))
                    .addMsi(bad, true), "vectors " + bad);
        }
    }

    // ---- MSI-X ---------------------------------------------------------------------------------------

    @Test
    void msixControlTableAndPba() throws Exception {
        EmuDevice device = everyCapability();
        PciConfigSpace config = device.config();
        int msix = device.capability(CAP_ID_MSIX);
        assertEquals(15, config.get16(msix + MSIX_CONTROL), "table size N-1, disabled, unmasked");
        assertEquals(0x1000, config.get32(msix + MSIX_TABLE), "table at 0x1000 of BAR 0");
        assertEquals(0x1800, config.get32(msix + MSIX_PBA), "PBA at 0x1800 of BAR 0");
        write(config, msix + MSIX_CONTROL, 2, 0xffff);
        assertEquals(MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK | 15, config.get16(msix + MSIX_CONTROL));
        write(config, msix + MSIX_CONTROL, 2, 0);
        assertEquals(15, config.get16(msix + MSIX_CONTROL), "table size stays");
        write(config, msix + MSIX_TABLE, 4, ALL_ONES);
        write(config, msix + MSIX_PBA, 4, ALL_ONES);
        assertEquals(0x1000, config.get32(msix + MSIX_TABLE), "read-only");
        assertEquals(0x1800, config.get32(msix + MSIX_PBA), "read-only");
    }

    @Test
    void msixBarIndicatorsAndLimits() {
        PciConfigSpace config = new PciConfigSpace(CONFIG_SIZE);
        PciCapabilities caps = new PciCapabilities(config);
        int at = caps.addMsix(2048, 4, 0x2000, 5, 0x8);
        assertEquals(MSIX_CONTROL_TABLE_SIZE, config.get16(at + MSIX_CONTROL) & MSIX_CONTROL_TABLE_SIZE);
        assertEquals(4, config.get32(at + MSIX_TABLE) & MSIX_BIR_MASK);
        assertEquals(0x2000, config.get32(at + MSIX_TABLE) & ~MSIX_BIR_MASK);
        assertEquals(5, config.get32(at + MSIX_PBA) & MSIX_BIR_MASK);
        assertEquals(0x8, config.get32(at + MSIX_PBA) & ~MSIX_BIR_MASK);
        PciCapabilities more = new PciCapabilities(new PciConfigSpace(CONFIG_SIZE));
        assertThrows(IllegalArgumentException.class, () -> more.addMsix(0, 0, 0, 0, 0x100));
        assertThrows(IllegalArgumentException.class, () -> more.addMsix(2049, 0, 0, 0, 0x8000));
        assertThrows(IllegalArgumentException.class, () -> more.addMsix(4, 0, 0x804, 0, 0xc00), "unaligned table");
        assertThrows(IllegalArgumentException.class, () -> more.addMsix(4, 0, 0x800, 0, 0xc01), "unaligned PBA");
    }

    // ---- PCI Express ---------------------------------------------------------------------------------

    @Test
    void expressCapabilityOfAnEndpoint() throws Exception {
        EmuDevice device = everyCapability();
        PciConfigSpace config = device.config();
        int exp = device.capability(CAP_ID_EXPRESS);
        assertEquals(EXP_VERSION_2 | (EXP_TYPE_ENDPOINT << EXP_TYPE_SHIFT), config.get16(exp + EXP_FLAGS));
        assertEquals(0, config.get32(exp + EXP_DEVICE_CAPABILITIES) & EXP_DEVICE_CAPABILITIES_FLR,
                "the builder's endpoint offers no FLR");
        write(config, exp + EXP_FLAGS, 2, 0xffff);
        write(config, exp + EXP_DEVICE_CAPABILITIES, 4, ALL_ONES);
        assertEquals(EXP_VERSION_2, config.get16(exp + EXP_FLAGS), "flags are read-only");
        assertEquals(0, config.get32(exp + EXP_DEVICE_CAPABILITIES), "device capabilities are read-only");

        write(config, exp + EXP_DEVICE_CONTROL, 2, 0xffff);
        assertEquals(EXP_DEVICE_CONTROL_WRITABLE, config.get16(exp + EXP_DEVICE_CONTROL), "no FLR bit without FLR");
        write(config, exp + EXP_DEVICE_CONTROL, 2, 0);
        assertEquals(0, config.get16(exp + EXP_DEVICE_CONTROL));

        for (int r : new int[] {EXP_LINK_CAPABILITIES, EXP_LINK_CONTROL, EXP_DEVICE_CAPABILITIES_2, EXP_DEVICE_CONTROL_2}) {
            write(config, exp + r, 4, ALL_ONES);
        }
        assertEquals(0, config.get32(exp + EXP_LINK_CAPABILITIES));
        assertEquals(0, config.get16(exp + EXP_LINK_CONTROL));
        assertEquals(0, config.get16(exp + EXP_LINK_STATUS));
        assertEquals(0, config.get32(exp + EXP_DEVICE_CAPABILITIES_2));
    }

    @Test
    void expressDeviceStatusErrorsAreWriteOneToClear() throws Exception {
        EmuDevice device = everyCapability();
        PciConfigSpace config = device.config();
        int status = device.capability(CAP_ID_EXPRESS) + EXP_DEVICE_STATUS;
        config.setBits(status, 2, 0x3f);
        write(config, status, 2, 0);
        assertEquals(0x3f, config.get16(status));
        write(config, status, 2, 0x5);
        assertEquals(0x3a, config.get16(status), "only errors written 1 clear");
        write(config, status, 2, 0xffff);
        assertEquals(0x30, config.get16(status), "AUX power and transactions pending are read-only");
    }

    @Test
    void expressCapabilityWithFunctionLevelReset() {
        PciConfigSpace config = new PciConfigSpace(EXPRESS_CONFIG_SIZE);
        int exp = new PciCapabilities(config).addExpress(EXP_TYPE_ROOT_COMPLEX_ENDPOINT, true);
        assertEquals(EXP_VERSION_2 | (EXP_TYPE_ROOT_COMPLEX_ENDPOINT << EXP_TYPE_SHIFT), config.get16(exp + EXP_FLAGS));
        assertEquals(EXP_DEVICE_CAPABILITIES_FLR, config.get32(exp + EXP_DEVICE_CAPABILITIES));
        AtomicInteger controlWrites = new AtomicInteger();
        config.watch(exp + EXP_DEVICE_CONTROL, 2, c -> controlWrites.incrementAndGet());
        write(config, exp + EXP_DEVICE_CONTROL, 2, EXP_DEVICE_CONTROL_FLR);
        assertEquals(1, controlWrites.get(), "a device can watch for the FLR request");
        assertEquals(0, config.get16(exp + EXP_DEVICE_CONTROL) & EXP_DEVICE_CONTROL_FLR, "the FLR bit always reads 0");
        write(config, exp + EXP_DEVICE_CONTROL, 2, 0xffff);
        assertEquals(EXP_DEVICE_CONTROL_WRITABLE,
                config.get16(exp + EXP_DEVICE_CONTROL) & ~EXP_DEVICE_CONTROL_FLR, "the usual RW bits");
    }

    // ---- vendor-specific -----------------------------------------------------------------------------

    @Test
    void vendorCapabilityHasItsLengthAndAReadOnlyBody() throws Exception {
        AtomicInteger placed = new AtomicInteger(-1);
        EmuDevice device = build(EmuDevice.builder("vendor", IDS)
                .msi(1)
                .vendorCapability(bytes(0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77), placed::set)
                .bar(Bar.memory32(0, 4096)));
        PciConfigSpace config = device.config();
        int at = device.capability(CAP_ID_VENDOR);
        assertEquals(at, placed.get(), "the setup learns where the capability went");
        assertEquals(CAP_ID_VENDOR, config.get8(at + CAP_ID));
        assertEquals(VENDOR_HEADER + 7, config.get8(at + VENDOR_LENGTH));
        assertEquals(0x44332211L, config.get32(at + VENDOR_HEADER));
        write(config, at + VENDOR_LENGTH, 4, ALL_ONES);
        write(config, at + VENDOR_HEADER + 4, 4, 0);
        assertEquals(VENDOR_HEADER + 7, config.get8(at + VENDOR_LENGTH));
        assertEquals(0x44332211L, config.get32(at + VENDOR_HEADER));
        assertEquals(0x776655, config.get(at + VENDOR_HEADER + 4, 3));
    }

    @Test
    void vendorCapabilitySetupCanMakeFieldsWritableAndWatchThem() throws Exception {
        AtomicInteger writes = new AtomicInteger();
        List<Integer> offsets = new ArrayList<>();
        EmuDevice device = build(EmuDevice.builder("vendor-rw", IDS)
                .vendorCapability(new byte[5], offsets::add)
                .bar(Bar.memory32(0, 4096)));
        int field = offsets.get(0) + VENDOR_HEADER + 1;
        device.config().setWritable(field, 2, 0x0fff);
        device.config().watch(field, 2, c -> writes.incrementAndGet());
        write(device.config(), field, 2, 0xffff);
        assertEquals(0x0fff, device.config().get16(field));
        assertEquals(1, writes.get());
        write(device.config(), field + 2, 1, 0xff);
        assertEquals(1, writes.get(), "the byte after the watched field");
        assertEquals(0, device.config().get8(field + 2), "the rest of the body stays read-only");
    }

    // ---- extended capabilities -----------------------------------------------------------------------

    @Test
    void extendedVendorCapabilitiesChainFrom0x100() {
        PciConfigSpace config = new PciConfigSpace(EXPRESS_CONFIG_SIZE);
        PciCapabilities caps = new PciCapabilities(config);
        caps.addExpress(EXP_TYPE_ENDPOINT, false);
        int first = caps.addExtendedVendor(1, bytes(0x01, 0x00, 0x10, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff));
        int second = caps.addExtendedVendor(2, bytes(0x02, 0x00, 0x08, 0x00));
        assertEquals(EXTENDED_CAPABILITIES, first);
        assertEquals(0x110, second, "the next one starts dword aligned after the 14 bytes of the first");

        long header = config.get32(first);
        assertEquals(EXT_CAP_ID_VENDOR, header & 0xffff);
        assertEquals(1, (header >>> EXT_CAP_VERSION_SHIFT) & 0xf);
        assertEquals(second, header >>> EXT_CAP_NEXT_SHIFT);
        long last = config.get32(second);
        assertEquals(EXT_CAP_ID_VENDOR, last & 0xffff);
        assertEquals(2, (last >>> EXT_CAP_VERSION_SHIFT) & 0xf);
        assertEquals(0, last >>> EXT_CAP_NEXT_SHIFT, "the last one ends the chain");
        assertEquals(0xddccbbaaL, config.get32(first + 8));

        // Walk it the way a guest does.
        List<Integer> walked = new ArrayList<>();
        Set<Integer> seen = new HashSet<>();
        for (int at = EXTENDED_CAPABILITIES; at != 0; at = (int) (config.get32(at) >>> EXT_CAP_NEXT_SHIFT)) {
            assertTrue(at >= EXTENDED_CAPABILITIES && at < EXPRESS_CONFIG_SIZE && at % 4 == 0);
            assertTrue(seen.add(at), "loop");
            walked.add(at);
        }
        assertEquals(List.of(first, second), walked);

        write(config, first, 4, 0);
        assertEquals(header, config.get32(first), "extended headers are read-only");
    }

    @Test
    void extendedCapabilitiesNeedFourKibibytes() {
        PciCapabilities caps = new PciCapabilities(new PciConfigSpace(CONFIG_SIZE));
        assertThrows(IllegalStateException.class, () -> caps.addExtendedVendor(1, new byte[8]));
    }

    @Test
    void extendedCapabilitiesMustFit() {
        PciConfigSpace config = new PciConfigSpace(EXPRESS_CONFIG_SIZE);
        PciCapabilities caps = new PciCapabilities(config);
        int fill = caps.addExtendedVendor(1, new byte[EXPRESS_CONFIG_SIZE - EXTENDED_CAPABILITIES - 4]);
        assertEquals(EXTENDED_CAPABILITIES, fill);
        byte[] before = config.snapshot();
        assertThrows(IllegalStateException.class, () -> caps.addExtendedVendor(1, new byte[0]));
        assertArrayEquals(before, config.snapshot());
        PciCapabilities other = new PciCapabilities(new PciConfigSpace(EXPRESS_CONFIG_SIZE));
        assertThrows(IllegalStateException.class,
                () -> other.addExtendedVendor(1, new byte[EXPRESS_CONFIG_SIZE - EXTENDED_CAPABILITIES - 3]));
    }
}

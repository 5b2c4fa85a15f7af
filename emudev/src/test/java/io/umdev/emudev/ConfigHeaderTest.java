package io.umdev.emudev;

import static io.umdev.emudev.pci.PciRegisters.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.emudev.pci.PciConfigSpace;
import io.umdev.emudev.pci.PciIds;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The type-0 header {@link EmuDevice.Builder} writes, as a guest (and QEMU, which forwards every config
 * write) sees it: read-only identity, the writable command bits, RW1C status, BAR sizing, no ROM, and
 * the power-on state a reset returns to.
 */
class ConfigHeaderTest {
    static final PciIds IDS = new PciIds(0x1af4, 0x10f1, 0x1af5, 0x0042, 0x07, 0x020000);
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

    /** BAR0 4 KiB registers, BAR1 I/O 32 bytes, BAR2-3 64-bit prefetchable 8 GiB, BAR4 32-bit 1 MiB; BAR5 unused. */
    private EmuDevice fullDevice() throws Exception {
        return build(EmuDevice.builder("hdr", IDS)
                .interruptPin()
                .powerManagement()
                .msi(4)
                .msix(4, 0, 0x800, 0xc00)
                .bar(Bar.memory32(0, 4096))
                .bar(Bar.io(1, 32))
                .bar(Bar.memory64(2, 1L << 33, true))
                .bar(Bar.memory32(4, 1 << 20)));
    }

    static void write(PciConfigSpace config, int offset, int length, long value) {
        MemorySegment src = MemorySegment.ofArray(new byte[length]);
        for (int i = 0; i < length; i++) {
            src.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        config.write(offset, src);
    }

    @Test
    void identityIsWrittenFromTheIds() throws Exception {
        PciConfigSpace config = fullDevice().config();
        assertEquals(0x1af4, config.get16(VENDOR_ID));
        assertEquals(0x10f1, config.get16(DEVICE_ID));
        assertEquals(0x07, config.get8(REVISION_ID));
        assertEquals(0x00, config.get8(CLASS_PROG));
        assertEquals(0x0200, config.get16(CLASS_CODE));
        assertEquals(0x1af5, config.get16(SUBSYSTEM_VENDOR_ID));
        assertEquals(0x0042, config.get16(SUBSYSTEM_ID));
        assertEquals(HEADER_TYPE_NORMAL, config.get8(HEADER_TYPE));
        assertEquals(INTERRUPT_PIN_INTA, config.get8(INTERRUPT_PIN));
        assertEquals(HEADER_END, config.get8(CAPABILITY_LIST), "the first capability right after the header");
        assertEquals(256, config.size(), "a conventional PCI function has 256 bytes");
    }

    @Test
    void readOnlyHeaderFieldsKeepTheirValueUnderAnyWrite() throws Exception {
        PciConfigSpace config = fullDevice().config();
        int[] readOnly = {VENDOR_ID, VENDOR_ID + 1, DEVICE_ID, DEVICE_ID + 1, REVISION_ID, CLASS_PROG, CLASS_CODE,
            CLASS_CODE + 1, LATENCY_TIMER, HEADER_TYPE, BIST, CARDBUS_CIS, CARDBUS_CIS + 1, CARDBUS_CIS + 2,
            CARDBUS_CIS + 3, SUBSYSTEM_VENDOR_ID, SUBSYSTEM_VENDOR_ID + 1, SUBSYSTEM_ID, SUBSYSTEM_ID + 1,
            CAPABILITY_LIST, CAPABILITY_LIST + 1, CAPABILITY_LIST + 2, CAPABILITY_LIST + 3, 0x38, 0x39, 0x3a, 0x3b,
            INTERRUPT_PIN, MIN_GNT, MAX_LAT};
        byte[] before = config.snapshot();
        for (long value : new long[] {ALL_ONES, 0, 0x5a5a5a5aL}) {
            for (int at = 0; at < HEADER_END; at += 4) {
                write(config, at, 4, value);
            }
            for (int at = 0; at < HEADER_END; at++) {
                write(config, at, 1, value);
            }
            byte[] after = config.snapshot();
            for (int at : readOnly) {
                assertEquals(before[at], after[at], String.format("byte 0x%02x after writing 0x%x", at, value));
            }
        }
    }

    @Test
    void commandRegisterTakesOnlyTheDefinedBits() throws Exception {
        PciConfigSpace config = fullDevice().config();
        assertEquals(0, config.get16(COMMAND), "power-on: decoding off");
        write(config, COMMAND, 2, 0xffff);
        assertEquals(COMMAND_WRITABLE, config.get16(COMMAND));
        assertEquals(COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER | COMMAND_PARITY | COMMAND_SERR
                | COMMAND_INTX_DISABLE, config.get16(COMMAND));
        for (int bit = 0; bit < 16; bit++) {
            write(config, COMMAND, 2, 1 << bit);
            int expected = (COMMAND_WRITABLE & (1 << bit)) != 0 ? 1 << bit : 0;
            assertEquals(expected, config.get16(COMMAND), "command bit " + bit);
        }
        write(config, COMMAND, 2, COMMAND_MEMORY | COMMAND_MASTER);
        write(config, COMMAND + 1, 1, 0xff);
        assertEquals(COMMAND_MEMORY | COMMAND_MASTER | COMMAND_SERR | COMMAND_INTX_DISABLE, config.get16(COMMAND),
                "a byte write to the high half leaves the low half");
        write(config, COMMAND, 2, 0);
        assertEquals(0, config.get16(COMMAND));
    }

    @Test
    void statusErrorBitsClearOnlyWhenWrittenOne() throws Exception {
        EmuDevice device = fullDevice();
        PciConfigSpace config = device.config();
        int other = STATUS_CAPABILITY_LIST;
        assertEquals(other, config.get16(STATUS), "power-on: only the capability list bit");
        config.setBits(STATUS, 2, STATUS_WRITE_ONE_TO_CLEAR | STATUS_INTERRUPT);
        int all = other | STATUS_INTERRUPT | STATUS_WRITE_ONE_TO_CLEAR;
        write(config, STATUS, 2, 0);
        assertEquals(all, config.get16(STATUS), "writing 0 clears nothing");
        write(config, STATUS, 2, STATUS_INTERRUPT | STATUS_CAPABILITY_LIST);
        assertEquals(all, config.get16(STATUS), "interrupt and capability-list bits are read-only");
        write(config, STATUS, 2, STATUS_RECEIVED_MASTER_ABORT);
        assertEquals(all & ~STATUS_RECEIVED_MASTER_ABORT, config.get16(STATUS), "only the bit written 1 clears");
        write(config, STATUS + 1, 1, (STATUS_DETECTED_PARITY_ERROR | STATUS_MASTER_PARITY_ERROR) >>> 8);
        assertEquals(all & ~(STATUS_RECEIVED_MASTER_ABORT | STATUS_DETECTED_PARITY_ERROR | STATUS_MASTER_PARITY_ERROR),
                config.get16(STATUS));
        // A dword write at COMMAND also reaches STATUS, as a guest's 32-bit access does.
        write(config, COMMAND, 4, ((long) 0xffff << 16) | COMMAND_MEMORY);
        assertEquals(other | STATUS_INTERRUPT, config.get16(STATUS), "all error bits cleared, the rest unaffected");
        assertEquals(COMMAND_MEMORY, config.get16(COMMAND));
        write(config, STATUS, 2, 0xffff);
        assertEquals(other | STATUS_INTERRUPT, config.get16(STATUS), "nothing else is writable");
    }

    @Test
    void cacheLineSizeAndInterruptLineAreReadWrite() throws Exception {
        PciConfigSpace config = fullDevice().config();
        write(config, CACHE_LINE_SIZE, 1, 0x10);
        write(config, INTERRUPT_LINE, 1, 0x0b);
        assertEquals(0x10, config.get8(CACHE_LINE_SIZE));
        assertEquals(0x0b, config.get8(INTERRUPT_LINE));
        write(config, INTERRUPT_LINE, 2, 0xffff);
        assertEquals(0xff, config.get8(INTERRUPT_LINE));
        assertEquals(INTERRUPT_PIN_INTA, config.get8(INTERRUPT_PIN), "the pin beside it stays read-only");
    }

    @Test
    void barsSizeFromTheBuilderShapes() throws Exception {
        PciConfigSpace config = fullDevice().config();
        assertEquals(0, config.get32(barOffset(0)));
        assertEquals(BAR_SPACE_IO, config.get32(barOffset(1)));
        assertEquals(BAR_MEMORY_TYPE_64 | BAR_MEMORY_PREFETCH, config.get32(barOffset(2)),
                "QEMU reads the type bits from config space");
        assertEquals(0, config.get32(barOffset(3)));
        for (int i = 0; i < BAR_COUNT; i++) {
            write(config, barOffset(i), 4, ALL_ONES);
        }
        assertEquals(0xfffff000L, config.get32(barOffset(0)));
        assertEquals(0xffffffe1L, config.get32(barOffset(1)));
        assertEquals(BAR_MEMORY_TYPE_64 | BAR_MEMORY_PREFETCH, config.get32(barOffset(2)));
        assertEquals(0xfffffffeL, config.get32(barOffset(3)));
        assertEquals(0xfff00000L, config.get32(barOffset(4)));
        assertEquals(0, config.get32(barOffset(5)), "an unimplemented BAR reads 0 after sizing");
    }

    @Test
    void unimplementedBarsReadZeroAfterSizing() throws Exception {
        PciConfigSpace config = build(EmuDevice.builder("one-bar", IDS).bar(Bar.memory32(2, 4096))).config();
        for (int i = 0; i < BAR_COUNT; i++) {
            write(config, barOffset(i), 4, ALL_ONES);
            assertEquals(i == 2 ? 0xfffff000L : 0, config.get32(barOffset(i)), "BAR " + i);
        }
    }

    @Test
    void romBarReadsZeroEvenAfterQemusSizingProbe() throws Exception {
        PciConfigSpace config = fullDevice().config();
        assertEquals(0, config.get32(ROM_ADDRESS));
        write(config, ROM_ADDRESS, 4, 0xfffff800L);
        assertEquals(0, config.get32(ROM_ADDRESS), "a ROM-less device must read 0 after QEMU's probe");
        write(config, ROM_ADDRESS, 4, ALL_ONES);
        assertEquals(0, config.get32(ROM_ADDRESS));
        write(config, ROM_ADDRESS, 1, 0x01);
        assertEquals(0, config.get32(ROM_ADDRESS), "nor can the enable bit be set");
    }

    @Test
    void interruptPinIsZeroWithoutIntx() throws Exception {
        PciConfigSpace config = build(EmuDevice.builder("no-pin", IDS).bar(Bar.memory32(0, 4096))).config();
        assertEquals(INTERRUPT_PIN_NONE, config.get8(INTERRUPT_PIN));
        write(config, INTERRUPT_PIN, 1, 1);
        assertEquals(INTERRUPT_PIN_NONE, config.get8(INTERRUPT_PIN));
    }

    @Test
    void withoutCapabilitiesTheListIsEmpty() throws Exception {
        PciConfigSpace config = build(EmuDevice.builder("bare", IDS).bar(Bar.memory32(0, 4096))).config();
        assertEquals(0, config.get16(STATUS) & STATUS_CAPABILITY_LIST);
        assertEquals(0, config.get8(CAPABILITY_LIST));
    }

    @Test
    void expressFunctionsHaveFourKibibytes() throws Exception {
        PciConfigSpace config = build(EmuDevice.builder("pcie", IDS).express().bar(Bar.memory32(0, 4096))).config();
        assertEquals(EXPRESS_CONFIG_SIZE, config.size());
        assertTrue(config.isExpress());
    }

    @Test
    void resetRestoresPowerOnContentsButKeepsTheMasks() throws Exception {
        EmuDevice device = fullDevice();
        PciConfigSpace config = device.config();
        byte[] powerOn = config.snapshot();
        int msi = device.capability(CAP_ID_MSI);
        int msix = device.capability(CAP_ID_MSIX);
        int pm = device.capability(CAP_ID_PM);

        write(config, COMMAND, 2, COMMAND_MEMORY | COMMAND_MASTER | COMMAND_IO | COMMAND_INTX_DISABLE);
        write(config, barOffset(0), 4, 0xfebf0000L);
        write(config, barOffset(1), 4, 0xc000L);
        write(config, barOffset(2), 4, 0xe0000000L);
        write(config, barOffset(3), 4, 0x4L);
        write(config, barOffset(4), 4, 0xfe000000L);
        write(config, CACHE_LINE_SIZE, 1, 0x10);
        write(config, INTERRUPT_LINE, 1, 0x0a);
        write(config, msi + MSI_CONTROL, 2, MSI_CONTROL_ENABLE | (2 << 4));
        write(config, msi + MSI_ADDRESS_LO, 4, 0xfee00000L);
        write(config, msi + MSI_DATA_64, 2, 0x4041);
        write(config, msi + MSI_MASK_64, 4, 0x5);
        write(config, msix + MSIX_CONTROL, 2, MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK);
        write(config, pm + PM_CONTROL_STATUS, 2, 0x3);
        config.setBits(STATUS, 2, STATUS_RECEIVED_MASTER_ABORT);
        assertNotEquals(0, config.get16(COMMAND));
        assertNotEquals(0, config.get32(barOffset(0)));

        device.reset();

        assertArrayEquals(powerOn, config.snapshot(), "reset returns every byte to its power-on value");
        assertEquals(0, config.get16(COMMAND));
        assertEquals(0, config.get32(barOffset(0)));
        assertEquals(BAR_MEMORY_TYPE_64 | BAR_MEMORY_PREFETCH, config.get32(barOffset(2)));
        assertEquals(0, config.get32(barOffset(3)));
        assertEquals(0, config.get16(msi + MSI_CONTROL) & (MSI_CONTROL_ENABLE | MSI_CONTROL_MME_MASK));
        assertEquals(0, config.get16(msix + MSIX_CONTROL) & (MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK));
        assertEquals(0, config.get16(STATUS) & STATUS_RECEIVED_MASTER_ABORT);

        // The masks survived: sizing, command and RW1C behave as before.
        write(config, barOffset(0), 4, ALL_ONES);
        assertEquals(0xfffff000L, config.get32(barOffset(0)));
        write(config, barOffset(3), 4, ALL_ONES);
        assertEquals(0xfffffffeL, config.get32(barOffset(3)));
        write(config, COMMAND, 2, 0xffff);
        assertEquals(COMMAND_WRITABLE, config.get16(COMMAND));
        write(config, msix + MSIX_CONTROL, 2, 0xffff);
        assertEquals(MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK | 3, config.get16(msix + MSIX_CONTROL));
        config.setBits(STATUS, 2, STATUS_SIGNALED_SYSTEM_ERROR);
        write(config, STATUS, 2, STATUS_SIGNALED_SYSTEM_ERROR);
        assertEquals(0, config.get16(STATUS) & STATUS_SIGNALED_SYSTEM_ERROR);
    }
}

package io.umdev.emudev.pci;

import static io.umdev.emudev.pci.PciConfigSpaceTest.write;
import static io.umdev.emudev.pci.PciRegisters.CAP_ID_MSIX;
import static io.umdev.emudev.pci.PciRegisters.MSIX_CONTROL;
import static io.umdev.emudev.pci.PciRegisters.MSIX_CONTROL_ENABLE;
import static io.umdev.emudev.pci.PciRegisters.MSIX_CONTROL_FUNCTION_MASK;
import static io.umdev.emudev.pci.PciRegisters.MSIX_ENTRY_ADDRESS_HI;
import static io.umdev.emudev.pci.PciRegisters.MSIX_ENTRY_ADDRESS_LO;
import static io.umdev.emudev.pci.PciRegisters.MSIX_ENTRY_DATA;
import static io.umdev.emudev.pci.PciRegisters.MSIX_ENTRY_MASKED;
import static io.umdev.emudev.pci.PciRegisters.MSIX_ENTRY_SIZE;
import static io.umdev.emudev.pci.PciRegisters.MSIX_ENTRY_VECTOR_CONTROL;
import static io.umdev.emudev.testing.ClientIrqs.signals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.emudev.Bar;
import io.umdev.emudev.DeviceInterrupts;
import io.umdev.emudev.EmuDevice;
import io.umdev.emudev.testing.ClientIrqs;
import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.vfiouser.irq.IrqIndex;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * MSI-X delivery through the client's eventfds, as QEMU drives it (eventfds only, table never written)
 * and as a client forwarding table accesses would (full hardware semantics). Table and PBA are reached
 * through the BAR the way the adapter serves them; the control register through config writes.
 */
class MsixTableTest {
    private static final int VECTORS = 4;
    private static final long TABLE = 0x800;
    private static final long PBA = 0xc00;

    private final ClientIrqs client = new ClientIrqs();
    private EmuDevice device;
    private Bar bar;
    private MsixTable msix;
    private IrqIndex irq;
    private int control;

    @BeforeEach
    void build() throws Exception {
        device = EmuDevice.builder("msix", new PciIds(0x1234, 0x0001, 0x1234, 0x0001, 0, 0x0b4000))
                .msix(VECTORS, 0, TABLE, PBA)
                .bar(Bar.memory32(0, 4096))
                .build();
        bar = device.bar(0);
        msix = device.interrupts().msix();
        irq = device.interrupts().index(DeviceInterrupts.MSIX_INDEX);
        control = device.capability(CAP_ID_MSIX) + MSIX_CONTROL;
    }

    @AfterEach
    void close() {
        device.close();
        client.close();
    }

    private void writeControl(int value) {
        write(device.config(), control, 2, value);
    }

    private long pba() {
        return readBar(PBA, 8);
    }

    private long readBar(long offset, int length) {
        MemorySegment dst = MemorySegment.ofArray(new byte[length]);
        assertEquals(Errno.OK, bar.read(offset, dst));
        long value = 0;
        for (int i = 0; i < length; i++) {
            value |= (dst.get(ValueLayout.JAVA_BYTE, i) & 0xffL) << (8 * i);
        }
        return value;
    }

    private void writeBar(long offset, int length, long value) {
        MemorySegment src = MemorySegment.ofArray(new byte[length]);
        for (int i = 0; i < length; i++) {
            src.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        assertEquals(Errno.OK, bar.write(offset, src));
    }

    private static long entry(int vector, int field) {
        return TABLE + (long) vector * MSIX_ENTRY_SIZE + field;
    }

    /** A client that forwards table writes programs the entry: address, data, vector control. */
    private void program(int vector, boolean masked) {
        writeBar(entry(vector, MSIX_ENTRY_ADDRESS_LO), 4, 0xfee00000L + vector);
        writeBar(entry(vector, MSIX_ENTRY_ADDRESS_HI), 4, 0);
        writeBar(entry(vector, MSIX_ENTRY_DATA), 4, 0x4020 + vector);
        writeBar(entry(vector, MSIX_ENTRY_VECTOR_CONTROL), 4, masked ? MSIX_ENTRY_MASKED : 0);
    }

    @Test
    void sizesOfTableAndPba() {
        assertEquals(VECTORS, msix.vectors());
        assertEquals(VECTORS * MSIX_ENTRY_SIZE, msix.tableSize());
        assertEquals(8, msix.pbaSize(), "whole 64-bit words");
        assertEquals(VECTORS, irq.count());
    }

    @Test
    void tableStartsMaskedAndReadsBackWhatTheClientWrote() {
        for (int v = 0; v < VECTORS; v++) {
            assertEquals(0, readBar(entry(v, MSIX_ENTRY_ADDRESS_LO), 8));
            assertEquals(MSIX_ENTRY_MASKED, readBar(entry(v, MSIX_ENTRY_VECTOR_CONTROL), 4), "vector " + v);
        }
        program(2, false);
        assertEquals(0xfee00002L, readBar(entry(2, MSIX_ENTRY_ADDRESS_LO), 4));
        assertEquals(0x4022, readBar(entry(2, MSIX_ENTRY_DATA), 4));
        assertEquals(0, readBar(entry(2, MSIX_ENTRY_VECTOR_CONTROL), 4));
        writeBar(entry(3, 0), 8, 0x00000001fee01000L);
        assertEquals(0x00000001fee01000L, readBar(entry(3, 0), 8), "a 64-bit access to the address");
        assertEquals(0, readBar(PBA, 8));
    }

    @Test
    void eventfdWithoutTableWritesDelivers() throws Exception {
        // QEMU's way: it emulates the table itself and only installs an eventfd per unmasked vector.
        EventFd v1 = client.install(irq, 1);
        writeControl(MSIX_CONTROL_ENABLE);
        assertTrue(msix.enabled());
        msix.signal(1);
        assertEquals(1, signals(v1));
        device.interrupts().signal(1);
        assertEquals(1, signals(v1), "DeviceInterrupts routes to MSI-X once it is enabled");
        assertEquals(0, pba());
    }

    @Test
    void signalsGoOnlyToTheirVector() throws Exception {
        EventFd[] fds = new EventFd[VECTORS];
        for (int v = 0; v < VECTORS; v++) {
            fds[v] = client.install(irq, v);
        }
        writeControl(MSIX_CONTROL_ENABLE);
        msix.signal(2);
        msix.signal(2);
        msix.signal(VECTORS);
        msix.signal(-1);
        for (int v = 0; v < VECTORS; v++) {
            assertEquals(v == 2 ? 2 : 0, signals(fds[v]), "vector " + v);
        }
    }

    @Test
    void functionMaskHoldsInterruptsAndUnmaskingDeliversThemOnce() throws Exception {
        EventFd v0 = client.install(irq, 0);
        EventFd v3 = client.install(irq, 3);
        writeControl(MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK);
        msix.signal(0);
        msix.signal(0);
        msix.signal(3);
        assertEquals(0, signals(v0));
        assertEquals(0, signals(v3));
        assertEquals(0b1001, pba(), "held vectors show in the PBA");
        assertTrue(msix.isPending(0));
        assertFalse(msix.isPending(1));

        writeControl(MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK);
        assertEquals(0, signals(v0), "a write keeping the mask delivers nothing");

        writeControl(MSIX_CONTROL_ENABLE);
        assertEquals(1, signals(v0), "two held signals of one vector are one interrupt");
        assertEquals(1, signals(v3));
        assertEquals(0, pba());
        writeControl(MSIX_CONTROL_ENABLE);
        assertEquals(0, signals(v0), "delivered exactly once");
        assertEquals(0, signals(v3));
    }

    @Test
    void programmedMaskedEntryHoldsUntilTheTableUnmasksIt() throws Exception {
        EventFd v2 = client.install(irq, 2);
        writeControl(MSIX_CONTROL_ENABLE);
        program(2, true);
        msix.signal(2);
        assertEquals(0, signals(v2));
        assertEquals(1L << 2, pba());
        assertEquals(1L << 2, readBar(PBA, 1), "a byte read of the PBA");

        writeBar(entry(2, MSIX_ENTRY_DATA), 4, 0x4099);
        assertEquals(0, signals(v2), "rewriting the data keeps it masked");
        writeBar(entry(2, MSIX_ENTRY_VECTOR_CONTROL), 4, 0);
        assertEquals(1, signals(v2), "unmasking the entry delivers the held interrupt");
        assertEquals(0, pba());
        msix.signal(2);
        assertEquals(1, signals(v2), "and later ones go straight through");
    }

    @Test
    void programmedUnmaskedEntryDeliversAndMaskingItHolds() throws Exception {
        EventFd v1 = client.install(irq, 1);
        writeControl(MSIX_CONTROL_ENABLE);
        program(1, false);
        msix.signal(1);
        assertEquals(1, signals(v1));
        writeBar(entry(1, MSIX_ENTRY_VECTOR_CONTROL), 4, MSIX_ENTRY_MASKED);
        msix.signal(1);
        assertEquals(0, signals(v1));
        assertEquals(1L << 1, pba());
    }

    @Test
    void withoutAnEventfdTheInterruptIsHeldUntilOneIsInstalled() throws Exception {
        writeControl(MSIX_CONTROL_ENABLE);
        msix.signal(1);
        assertEquals(1L << 1, pba());
        assertEquals(0, irq.lostInterrupts(), "held, not lost");
        EventFd v1 = client.install(irq, 1);
        assertEquals(1, signals(v1), "installing the eventfd delivers the held interrupt");
        assertEquals(0, pba());
    }

    @Test
    void removingTheEventfdHoldsAndReinstallingDelivers() throws Exception {
        // QEMU masks a vector by removing its eventfd.
        EventFd first = client.install(irq, 0);
        writeControl(MSIX_CONTROL_ENABLE);
        client.remove(irq, 0);
        msix.signal(0);
        assertEquals(0, signals(first));
        assertEquals(1, pba());
        EventFd second = client.install(irq, 0);
        assertEquals(1, signals(second));
        assertEquals(0, signals(first));
        assertEquals(0, pba());
    }

    @Test
    void setIrqsMaskHoldsAndUnmaskDelivers() throws Exception {
        EventFd v3 = client.install(irq, 3);
        writeControl(MSIX_CONTROL_ENABLE);
        client.mask(irq, 3);
        msix.signal(3);
        assertEquals(0, signals(v3));
        assertEquals(1L << 3, pba());
        client.unmask(irq, 3);
        assertEquals(1, signals(v3));
        assertEquals(0, pba());
        msix.signal(3);
        assertEquals(1, signals(v3));
    }

    @Test
    void pbaWritesAreIgnored() throws Exception {
        writeControl(MSIX_CONTROL_ENABLE);
        writeBar(PBA, 8, -1L);
        assertEquals(0, pba(), "the guest cannot set pending bits");
        msix.signal(2);
        writeBar(PBA, 8, 0);
        writeBar(PBA, 4, 0);
        assertEquals(1L << 2, pba(), "nor clear them");
        EventFd v2 = client.install(irq, 2);
        assertEquals(1, signals(v2));
    }

    @Test
    void resetMasksEveryEntryAndForgetsPendingInterrupts() throws Exception {
        EventFd v0 = client.install(irq, 0);
        EventFd v1 = client.install(irq, 1);
        writeControl(MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK);
        program(0, false);
        program(1, true);
        msix.signal(0);
        msix.signal(1);
        assertEquals(0b11, pba());

        device.reset();

        assertFalse(msix.enabled());
        assertEquals(0, pba(), "nothing pending after reset");
        for (int v = 0; v < VECTORS; v++) {
            assertEquals(0, readBar(entry(v, MSIX_ENTRY_ADDRESS_LO), 8), "vector " + v + " address");
            assertEquals(0, readBar(entry(v, MSIX_ENTRY_DATA), 4), "vector " + v + " data");
            assertEquals(MSIX_ENTRY_MASKED, readBar(entry(v, MSIX_ENTRY_VECTOR_CONTROL), 4), "vector " + v);
        }
        writeControl(MSIX_CONTROL_ENABLE);
        assertEquals(0, signals(v0), "what was pending before reset is not delivered after it");
        assertEquals(0, signals(v1));
        // Entries are unprogrammed again: the power-on mask does not hold an eventfd-enabled vector.
        msix.signal(1);
        assertEquals(1, signals(v1));
    }

    @Test
    void pbaSpansSeveralWords() throws Exception {
        try (EmuDevice big = EmuDevice.builder("msix-big", new PciIds(0x1234, 2, 0x1234, 2, 0, 0x0b4000))
                .msix(100, 0, 0, 0x800)
                .bar(Bar.memory32(0, 4096))
                .build()) {
            MsixTable table = big.interrupts().msix();
            assertEquals(16, table.pbaSize());
            write(big.config(), big.capability(CAP_ID_MSIX) + MSIX_CONTROL, 2, MSIX_CONTROL_ENABLE);
            table.signal(1);
            table.signal(64);
            table.signal(99);
            MemorySegment dst = MemorySegment.ofArray(new byte[16]);
            assertEquals(Errno.OK, big.bar(0).read(0x800, dst));
            assertEquals(1L << 1, dst.get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
            assertEquals(1L | (1L << 35), dst.get(ValueLayout.JAVA_LONG_UNALIGNED, 8));
            MemorySegment high = MemorySegment.ofArray(new byte[4]);
            assertEquals(Errno.OK, big.bar(0).read(0x80c, high));
            assertEquals(1 << 3, high.get(ValueLayout.JAVA_INT_UNALIGNED, 0), "vector 99 in the upper dword");
            EventFd v64 = client.install(big.interrupts().index(DeviceInterrupts.MSIX_INDEX), 64);
            assertEquals(1, signals(v64));
            assertTrue(table.isPending(99));
            assertFalse(table.isPending(64));
        }
    }
}

package io.umdev.emudev;

import static io.umdev.emudev.ConfigHeaderTest.write;
import static io.umdev.emudev.pci.PciRegisters.CAP_ID_MSI;
import static io.umdev.emudev.pci.PciRegisters.CAP_ID_MSIX;
import static io.umdev.emudev.pci.PciRegisters.COMMAND;
import static io.umdev.emudev.pci.PciRegisters.COMMAND_INTX_DISABLE;
import static io.umdev.emudev.pci.PciRegisters.COMMAND_MASTER;
import static io.umdev.emudev.pci.PciRegisters.COMMAND_MEMORY;
import static io.umdev.emudev.pci.PciRegisters.MSIX_CONTROL;
import static io.umdev.emudev.pci.PciRegisters.MSIX_CONTROL_ENABLE;
import static io.umdev.emudev.pci.PciRegisters.MSI_CONTROL;
import static io.umdev.emudev.pci.PciRegisters.MSI_CONTROL_ENABLE;
import static io.umdev.emudev.pci.PciRegisters.MSI_MASK_64;
import static io.umdev.emudev.pci.PciRegisters.MSI_PENDING_64;
import static io.umdev.emudev.pci.PciRegisters.STATUS;
import static io.umdev.emudev.pci.PciRegisters.STATUS_INTERRUPT;
import static io.umdev.emudev.testing.ClientIrqs.signals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.emudev.testing.ClientIrqs;
import io.umdev.linux.EventFd;
import io.umdev.vfiouser.irq.IrqIndex;
import io.umdev.vfiouser.protocol.IrqInfoPayload;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Where {@link DeviceInterrupts#signal} goes: MSI-X if the guest enabled it, else MSI, else the INTx
 * level; each with the masking the guest and the client can apply.
 */
class DeviceInterruptsTest {
    private static final int MSI_VECTORS = 4;
    private static final int MSIX_VECTORS = 4;

    private final ClientIrqs client = new ClientIrqs();
    private EmuDevice device;
    private DeviceInterrupts interrupts;
    private IrqIndex intx;
    private IrqIndex msi;
    private IrqIndex msix;
    private EventFd intxFd;
    private EventFd[] msiFds;
    private EventFd[] msixFds;

    @BeforeEach
    void build() throws Exception {
        device = EmuDevice.builder("irqs", ConfigHeaderTest.IDS)
                .interruptPin()
                .msi(MSI_VECTORS)
                .msix(MSIX_VECTORS, 0, 0x800, 0xc00)
                .bar(Bar.memory32(0, 4096))
                .build();
        interrupts = device.interrupts();
        intx = interrupts.index(DeviceInterrupts.INTX_INDEX);
        msi = interrupts.index(DeviceInterrupts.MSI_INDEX);
        msix = interrupts.index(DeviceInterrupts.MSIX_INDEX);
        intxFd = client.install(intx, 0);
        msiFds = new EventFd[MSI_VECTORS];
        msixFds = new EventFd[MSIX_VECTORS];
        for (int v = 0; v < MSI_VECTORS; v++) {
            msiFds[v] = client.install(msi, v);
        }
        for (int v = 0; v < MSIX_VECTORS; v++) {
            msixFds[v] = client.install(msix, v);
        }
    }

    @AfterEach
    void close() {
        device.close();
        client.close();
    }

    private int msiCap() {
        return device.capability(CAP_ID_MSI);
    }

    /** MSI enable with 2^mme vectors enabled. */
    private void enableMsi(int mme) {
        write(device.config(), msiCap() + MSI_CONTROL, 2, MSI_CONTROL_ENABLE | (mme << 4));
    }

    private void enableMsix() {
        write(device.config(), device.capability(CAP_ID_MSIX) + MSIX_CONTROL, 2, MSIX_CONTROL_ENABLE);
    }

    private int status() {
        return device.config().get16(STATUS);
    }

    /** Signals seen on every eventfd: INTx, then MSI vectors, then MSI-X vectors. */
    private String seen() throws Exception {
        StringBuilder b = new StringBuilder("intx=").append(signals(intxFd)).append(" msi=");
        for (EventFd e : msiFds) {
            b.append(signals(e));
        }
        b.append(" msix=");
        for (EventFd e : msixFds) {
            b.append(signals(e));
        }
        return b.toString();
    }

    @Test
    void indexesDescribeWhatTheFunctionHas() {
        assertEquals(1, intx.count());
        assertEquals(IrqInfoPayload.FLAG_EVENTFD | IrqInfoPayload.FLAG_MASKABLE | IrqInfoPayload.FLAG_AUTOMASKED,
                intx.infoFlags());
        assertEquals(MSI_VECTORS, msi.count());
        assertEquals(IrqInfoPayload.FLAG_EVENTFD | IrqInfoPayload.FLAG_NORESIZE, msi.infoFlags());
        assertEquals(MSIX_VECTORS, msix.count());
        assertEquals(IrqInfoPayload.FLAG_EVENTFD | IrqInfoPayload.FLAG_MASKABLE | IrqInfoPayload.FLAG_NORESIZE,
                msix.infoFlags(), "MSI-X vectors can be masked with SET_IRQS");
        IrqIndex err = interrupts.index(DeviceInterrupts.ERR_INDEX);
        assertEquals(1, err.count());
        assertEquals(IrqInfoPayload.FLAG_EVENTFD, err.infoFlags());
        assertEquals(0, interrupts.index(DeviceInterrupts.REQ_INDEX).count());
    }

    @Test
    void msixWinsWhenEnabled() throws Exception {
        enableMsi(2);
        enableMsix();
        interrupts.signal(1);
        assertEquals("intx=0 msi=0000 msix=0100", seen());
        assertEquals(0, status() & STATUS_INTERRUPT, "no INTx status for message interrupts");
    }

    @Test
    void msiWhenOnlyMsiIsEnabled() throws Exception {
        enableMsi(2);
        interrupts.signal(3);
        interrupts.signal(0);
        assertEquals("intx=0 msi=1001 msix=0000", seen());
    }

    @Test
    void msiVectorBeyondTheEnabledCountFallsBackToZero() throws Exception {
        enableMsi(0);
        interrupts.signal(3);
        assertEquals("intx=0 msi=1000 msix=0000", seen(), "one vector enabled");
        enableMsi(1);
        interrupts.signal(1);
        interrupts.signal(2);
        assertEquals("intx=0 msi=1100 msix=0000", seen(), "two vectors enabled: 2 falls back to 0");
    }

    @Test
    void msiEnabledBeyondTheFunctionsVectorsKeepsEveryInterrupt() throws Exception {
        enableMsi(7);
        interrupts.signal(3);
        interrupts.signal(9);
        assertEquals("intx=0 msi=1001 msix=0000", seen(), "vector 9 does not exist: it falls back to 0, never lost");
    }

    @Test
    void msiPendingBitsWaitWhileMsiIsDisabled() throws Exception {
        enableMsi(2);
        write(device.config(), msiCap() + MSI_MASK_64, 4, 0b0010);
        interrupts.signal(1);
        write(device.config(), msiCap() + MSI_CONTROL, 2, 2 << 4);
        write(device.config(), msiCap() + MSI_MASK_64, 4, 0);
        assertEquals("intx=0 msi=0000 msix=0000", seen(), "nothing is delivered while MSI is off");
        assertEquals(0b0010, device.config().get32(msiCap() + MSI_PENDING_64));
    }

    @Test
    void msiPerVectorMaskHoldsIntoThePendingRegister() throws Exception {
        enableMsi(2);
        write(device.config(), msiCap() + MSI_MASK_64, 4, 0b0110);
        interrupts.signal(1);
        interrupts.signal(2);
        interrupts.signal(3);
        assertEquals("intx=0 msi=0001 msix=0000", seen(), "only the unmasked vector went through");
        assertEquals(0b0110, device.config().get32(msiCap() + MSI_PENDING_64));

        write(device.config(), msiCap() + MSI_MASK_64, 4, 0b0100);
        assertEquals("intx=0 msi=0100 msix=0000", seen(), "unmasking vector 1 delivers it");
        assertEquals(0b0100, device.config().get32(msiCap() + MSI_PENDING_64));
        write(device.config(), msiCap() + MSI_MASK_64, 4, 0b0100);
        assertEquals("intx=0 msi=0000 msix=0000", seen(), "once");
        write(device.config(), msiCap() + MSI_MASK_64, 1, 0);
        assertEquals("intx=0 msi=0010 msix=0000", seen());
        assertEquals(0, device.config().get32(msiCap() + MSI_PENDING_64));
    }

    @Test
    void intxWhenNoMessageInterruptIsEnabled() throws Exception {
        interrupts.signal(2);
        assertEquals("intx=1 msi=0000 msix=0000", seen());
        assertTrue((status() & STATUS_INTERRUPT) != 0, "the status register shows the asserted line");
        assertTrue(intx.isMasked(0), "INTx is automasked");
        interrupts.signal(0);
        assertEquals("intx=0 msi=0000 msix=0000", seen(), "no edge while the client has not unmasked");
    }

    @Test
    void intxDisableBlocksTheLine() throws Exception {
        write(device.config(), COMMAND, 2, COMMAND_INTX_DISABLE | COMMAND_MEMORY);
        interrupts.assertIntx();
        assertEquals("intx=0 msi=0000 msix=0000", seen());
        assertTrue((status() & STATUS_INTERRUPT) != 0, "the status bit still shows the device's request");
        write(device.config(), COMMAND, 2, COMMAND_INTX_DISABLE | COMMAND_MEMORY | COMMAND_MASTER);
        assertEquals("intx=0 msi=0000 msix=0000", seen(), "still disabled");
    }

    @Test
    void clearingIntxDisableWhileAssertedSignalsAgain() throws Exception {
        write(device.config(), COMMAND, 2, COMMAND_INTX_DISABLE);
        interrupts.assertIntx();
        assertEquals(0, signals(intxFd));
        write(device.config(), COMMAND, 2, 0);
        assertEquals(1, signals(intxFd));
    }

    @Test
    void clearingIntxDisableAfterDeassertSignalsNothing() throws Exception {
        write(device.config(), COMMAND, 2, COMMAND_INTX_DISABLE);
        interrupts.assertIntx();
        interrupts.deassertIntx();
        write(device.config(), COMMAND, 2, 0);
        assertEquals(0, signals(intxFd));
    }

    @Test
    void clientUnmaskWhileAssertedSignalsAgain() throws Exception {
        interrupts.assertIntx();
        assertEquals(1, signals(intxFd));
        client.unmask(intx, 0);
        assertEquals(1, signals(intxFd), "the level is still up: the unmask re-raises it");
        assertTrue(intx.isMasked(0), "and automasks again");
        interrupts.deassertIntx();
        client.unmask(intx, 0);
        assertEquals(0, signals(intxFd));
        assertFalse(intx.isMasked(0));
        interrupts.assertIntx();
        assertEquals(1, signals(intxFd), "a new assertion after the line dropped");
    }

    @Test
    void lineDroppedBeforeTheUnmaskIsNotDeliveredAgain() throws Exception {
        interrupts.assertIntx();
        assertEquals(1, signals(intxFd));
        // The guest touches the command register while the client has the line masked (for instance
        // the driver enabling bus mastering), then services the device, which drops the line.
        write(device.config(), COMMAND, 2, COMMAND_MEMORY | COMMAND_MASTER);
        interrupts.deassertIntx();
        client.unmask(intx, 0);
        assertEquals(0, signals(intxFd), "the line is down at the unmask: nothing to deliver");
    }

    @Test
    void reassertedWhileMaskedIsDeliveredOnceAtUnmask() throws Exception {
        interrupts.assertIntx();
        assertEquals(1, signals(intxFd));
        interrupts.deassertIntx();
        interrupts.assertIntx();
        assertEquals(0, signals(intxFd), "masked");
        client.unmask(intx, 0);
        assertEquals(1, signals(intxFd));
        interrupts.deassertIntx();
        client.unmask(intx, 0);
        assertEquals(0, signals(intxFd), "nothing left over once the line is down");
    }

    @Test
    void deassertClearsTheStatusBit() throws Exception {
        interrupts.assertIntx();
        assertTrue((status() & STATUS_INTERRUPT) != 0);
        interrupts.deassertIntx();
        assertEquals(0, status() & STATUS_INTERRUPT);
    }

    @Test
    void resetDropsTheLine() throws Exception {
        interrupts.assertIntx();
        assertEquals(1, signals(intxFd));
        device.reset();
        assertEquals(0, status() & STATUS_INTERRUPT);
        client.unmask(intx, 0);
        assertEquals(0, signals(intxFd), "the line went down with the reset");
    }

    @Test
    void fatalErrorsGoToTheErrorIndex() throws Exception {
        EventFd err = client.install(interrupts.index(DeviceInterrupts.ERR_INDEX), 0);
        interrupts.reportFatalError();
        assertEquals(1, signals(err));
        assertEquals("intx=0 msi=0000 msix=0000", seen());
    }

    @Test
    void withoutAPinThereIsNoIntx() throws Exception {
        try (EmuDevice pinless = EmuDevice.builder("no-pin", ConfigHeaderTest.IDS)
                .bar(Bar.memory32(0, 4096))
                .build()) {
            DeviceInterrupts irqs = pinless.interrupts();
            IrqIndex none = irqs.index(DeviceInterrupts.INTX_INDEX);
            assertEquals(0, none.count());
            assertEquals(0, none.infoFlags());
            assertEquals(0, irqs.index(DeviceInterrupts.MSI_INDEX).count(), "no MSI capability, no MSI index");
            assertEquals(0, irqs.index(DeviceInterrupts.MSIX_INDEX).count());
            assertNull(irqs.msix());
            irqs.signal(0);
            irqs.assertIntx();
            assertEquals(0, pinless.config().get16(STATUS) & STATUS_INTERRUPT, "no line to assert");
        }
    }
}

package io.umdev.emudev;

import static io.umdev.emudev.pci.PciRegisters.COMMAND;
import static io.umdev.emudev.pci.PciRegisters.COMMAND_INTX_DISABLE;
import static io.umdev.emudev.pci.PciRegisters.MSI_CONTROL;
import static io.umdev.emudev.pci.PciRegisters.MSI_CONTROL_ENABLE;
import static io.umdev.emudev.pci.PciRegisters.MSI_CONTROL_MME_MASK;
import static io.umdev.emudev.pci.PciRegisters.MSI_CONTROL_PER_VECTOR_MASK;
import static io.umdev.emudev.pci.PciRegisters.MSI_MASK_64;
import static io.umdev.emudev.pci.PciRegisters.MSI_PENDING_64;
import static io.umdev.emudev.pci.PciRegisters.STATUS;
import static io.umdev.emudev.pci.PciRegisters.STATUS_INTERRUPT;

import io.umdev.emudev.pci.MsixTable;
import io.umdev.emudev.pci.PciConfigSpace;
import io.umdev.vfiouser.irq.IrqIndex;
import io.umdev.vfiouser.protocol.IrqInfoPayload;

/**
 * A function's interrupts: the INTx line, MSI and MSI-X, each delivered through the client's eventfds
 * of the matching VFIO IRQ index. {@link #signal(int)} picks what the guest enabled in config space:
 * MSI-X, else MSI, else the INTx line (which stays asserted until {@link #deassertIntx()}).
 */
public final class DeviceInterrupts {
    /** VFIO PCI IRQ indexes. */
    public static final int INTX_INDEX = 0;
    public static final int MSI_INDEX = 1;
    public static final int MSIX_INDEX = 2;
    public static final int ERR_INDEX = 3;
    public static final int REQ_INDEX = 4;
    public static final int INDEX_COUNT = 5;

    private static final int MME_SHIFT = 4;

    private final PciConfigSpace config;
    private final IrqIndex[] indexes;
    private final boolean intxPin;
    private final int msiCapability;
    private final MsixTable msix;
    private volatile boolean intxAsserted;

    DeviceInterrupts(PciConfigSpace config, boolean intxPin, int msiCapability, int msiVectors, MsixTable msix,
            IrqIndex msixIndex) {
        this.config = config;
        this.intxPin = intxPin;
        this.msiCapability = msiCapability;
        this.msix = msix;
        this.indexes = new IrqIndex[INDEX_COUNT];
        indexes[INTX_INDEX] = intxPin
                ? new IrqIndex(1, IrqInfoPayload.FLAG_EVENTFD | IrqInfoPayload.FLAG_MASKABLE | IrqInfoPayload.FLAG_AUTOMASKED)
                : IrqIndex.absent();
        indexes[MSI_INDEX] = msiCapability >= 0
                ? new IrqIndex(msiVectors, IrqInfoPayload.FLAG_EVENTFD | IrqInfoPayload.FLAG_NORESIZE)
                : IrqIndex.absent();
        indexes[MSIX_INDEX] = msixIndex != null ? msixIndex : IrqIndex.absent();
        // The error notification the client may wire up; signalled only on a fatal device error.
        indexes[ERR_INDEX] = new IrqIndex(1, IrqInfoPayload.FLAG_EVENTFD);
        indexes[REQ_INDEX] = IrqIndex.absent();
        if (intxPin) {
            // INTx is a level: re-signal when the client unmasks or the guest re-enables it while asserted.
            indexes[INTX_INDEX].setListener(new IrqIndex.Listener() {
                @Override
                public void maskChanged(int vector, boolean masked) {
                    if (!masked) {
                        resignalIntx();
                    }
                }
            });
            config.watch(COMMAND, 2, c -> resignalIntx());
        }
        if (msiCapability >= 0 && (config.get16(msiCapability + MSI_CONTROL) & MSI_CONTROL_PER_VECTOR_MASK) != 0) {
            config.watch(msiCapability + MSI_MASK_64, Integer.BYTES, c -> deliverHeldMsi());
        }
    }

    /** VFIO IRQ index {@code index} (INTx, MSI, MSI-X, ERR, REQ). */
    public IrqIndex index(int index) {
        return indexes[index];
    }

    /** The MSI-X table, or null if the function has no MSI-X. */
    public MsixTable msix() {
        return msix;
    }

    /** Raises interrupt {@code vector} in whatever mode the guest enabled. */
    public void signal(int vector) {
        if (msix != null && msix.enabled()) {
            msix.signal(vector);
        } else if (msiEnabled()) {
            signalMsi(vector);
        } else if (intxPin) {
            assertIntx();
        }
    }

    private boolean msiEnabled() {
        return msiCapability >= 0 && (config.get16(msiCapability + MSI_CONTROL) & MSI_CONTROL_ENABLE) != 0;
    }

    /** Vectors the guest enabled (MME), never more than the function has: a larger MME is treated as all. */
    private int msiVectorsEnabled() {
        int enabled = 1 << ((config.get16(msiCapability + MSI_CONTROL) & MSI_CONTROL_MME_MASK) >>> MME_SHIFT);
        return Math.min(enabled, indexes[MSI_INDEX].count());
    }

    private boolean msiMaskable() {
        return (config.get16(msiCapability + MSI_CONTROL) & MSI_CONTROL_PER_VECTOR_MASK) != 0;
    }

    private void signalMsi(int vector) {
        if (vector >= msiVectorsEnabled()) {
            vector = 0;
        }
        if (msiMaskable() && (config.get32(msiCapability + MSI_MASK_64) & (1L << vector)) != 0) {
            config.setBits(msiCapability + MSI_PENDING_64, Integer.BYTES, 1L << vector);
            return;
        }
        indexes[MSI_INDEX].trigger(vector);
    }

    private void deliverHeldMsi() {
        if (!msiEnabled()) {
            return;
        }
        long masks = config.get32(msiCapability + MSI_MASK_64);
        long held = config.get32(msiCapability + MSI_PENDING_64) & ~masks;
        for (int v = 0; held != 0; v++, held >>>= 1) {
            if ((held & 1) != 0) {
                config.clearBits(msiCapability + MSI_PENDING_64, Integer.BYTES, 1L << v);
                indexes[MSI_INDEX].trigger(v);
            }
        }
    }

    /** Raises the INTx line (it stays up until {@link #deassertIntx()}), unless the guest disabled INTx. */
    public void assertIntx() {
        if (!intxPin) {
            return;
        }
        intxAsserted = true;
        config.setBits(STATUS, 2, STATUS_INTERRUPT);
        resignalIntx();
    }

    /** Lowers the INTx line (the guest acknowledged the device's interrupt). */
    public void deassertIntx() {
        intxAsserted = false;
        config.clearBits(STATUS, 2, STATUS_INTERRUPT);
    }

    /**
     * Signals the line if it is up and the guest enabled INTx. While the client has it masked nothing is
     * sent: a level is not latched (it may drop before the unmask), the unmask re-raises it if still up.
     */
    private void resignalIntx() {
        if (intxAsserted && (config.get16(COMMAND) & COMMAND_INTX_DISABLE) == 0 && !indexes[INTX_INDEX].isMasked(0)) {
            indexes[INTX_INDEX].trigger(0);
        }
    }

    /** Tells the client the device failed (VFIO error index), if it wired the notification. */
    public void reportFatalError() {
        indexes[ERR_INDEX].trigger(0);
    }

    /** Device reset: the line goes down and MSI-X returns to its power-on state. */
    void reset() {
        intxAsserted = false;
        if (msix != null) {
            msix.reset();
        }
    }
}

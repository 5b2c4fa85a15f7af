package io.umdev.emudev.pci;

import static io.umdev.emudev.pci.PciRegisters.MSIX_CONTROL;
import static io.umdev.emudev.pci.PciRegisters.MSIX_CONTROL_ENABLE;
import static io.umdev.emudev.pci.PciRegisters.MSIX_CONTROL_FUNCTION_MASK;
import static io.umdev.emudev.pci.PciRegisters.MSIX_ENTRY_MASKED;
import static io.umdev.emudev.pci.PciRegisters.MSIX_ENTRY_SIZE;
import static io.umdev.emudev.pci.PciRegisters.MSIX_ENTRY_VECTOR_CONTROL;

import io.umdev.vfiouser.irq.IrqIndex;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The MSI-X table and pending-bit array of a function, and interrupt delivery through them.
 *
 * <p>Delivery goes to the client's eventfd for the vector ({@link IrqIndex}, VFIO index 2). A vector is
 * held pending (its PBA bit set) while the function is masked in the MSI-X capability, while the client
 * masked it with SET_IRQS, or while its table entry is masked — but the table entry counts only once
 * the client has written it. QEMU emulates the table itself and never forwards table accesses, so for
 * it the eventfd installed for a vector is what enables it; a client that does forward them gets the
 * full hardware semantics. Held interrupts are delivered when the mask goes away.
 */
public final class MsixTable {
    private static final int PBA_WORD_BITS = Long.SIZE;

    private final PciConfigSpace config;
    private final int capability;
    private final int vectors;
    private final IrqIndex irq;
    private final MemorySegment table;
    private final long[] pending;
    private final boolean[] programmed;

    /**
     * @param capability the config offset of the MSI-X capability
     * @param irq the VFIO MSI-X index carrying the client's eventfds
     */
    public MsixTable(PciConfigSpace config, int capability, int vectors, IrqIndex irq) {
        this.config = config;
        this.capability = capability;
        this.vectors = vectors;
        this.irq = irq;
        this.table = MemorySegment.ofArray(new byte[vectors * MSIX_ENTRY_SIZE]);
        this.pending = new long[pbaWords(vectors)];
        this.programmed = new boolean[vectors];
        resetEntries();
        config.watch(capability + MSIX_CONTROL, 2, c -> deliverHeld());
        irq.setListener(new IrqIndex.Listener() {
            @Override
            public void triggerChanged(int vector, boolean installed) {
                if (installed) {
                    deliverHeld();
                }
            }

            @Override
            public void maskChanged(int vector, boolean masked) {
                if (!masked) {
                    deliverHeld();
                }
            }
        });
    }

    private static int pbaWords(int vectors) {
        return (vectors + PBA_WORD_BITS - 1) / PBA_WORD_BITS;
    }

    public int vectors() {
        return vectors;
    }

    /** Bytes the table takes in its BAR. */
    public long tableSize() {
        return (long) vectors * MSIX_ENTRY_SIZE;
    }

    /** Bytes the pending-bit array takes in its BAR (whole 64-bit words). */
    public long pbaSize() {
        return (long) pbaWords(vectors) * Long.BYTES;
    }

    private synchronized void resetEntries() {
        table.fill((byte) 0);
        for (int v = 0; v < vectors; v++) {
            table.set(ValueLayout.JAVA_INT_UNALIGNED, (long) v * MSIX_ENTRY_SIZE + MSIX_ENTRY_VECTOR_CONTROL,
                    MSIX_ENTRY_MASKED);
        }
        java.util.Arrays.fill(pending, 0);
        java.util.Arrays.fill(programmed, false);
    }

    /** Back to the power-on state: every entry masked and unprogrammed, nothing pending. */
    public void reset() {
        resetEntries();
    }

    public boolean enabled() {
        return (config.get16(capability + MSIX_CONTROL) & MSIX_CONTROL_ENABLE) != 0;
    }

    private boolean functionMasked() {
        return (config.get16(capability + MSIX_CONTROL) & MSIX_CONTROL_FUNCTION_MASK) != 0;
    }

    private boolean held(int vector) {
        if (functionMasked() || irq.isMasked(vector) || !irq.hasTrigger(vector)) {
            return true;
        }
        return programmed[vector] && (table.get(ValueLayout.JAVA_INT_UNALIGNED,
                (long) vector * MSIX_ENTRY_SIZE + MSIX_ENTRY_VECTOR_CONTROL) & MSIX_ENTRY_MASKED) != 0;
    }

    /** Raises {@code vector}: delivered now, or held pending until its mask goes away. */
    public void signal(int vector) {
        if (vector < 0 || vector >= vectors) {
            return;
        }
        synchronized (this) {
            if (held(vector)) {
                pending[vector / PBA_WORD_BITS] |= 1L << (vector % PBA_WORD_BITS);
                return;
            }
        }
        irq.trigger(vector);
    }

    public synchronized boolean isPending(int vector) {
        return (pending[vector / PBA_WORD_BITS] & (1L << (vector % PBA_WORD_BITS))) != 0;
    }

    /** Delivers every pending vector whose mask has gone away. */
    private void deliverHeld() {
        for (int v = 0; v < vectors; v++) {
            boolean deliver;
            synchronized (this) {
                long bit = 1L << (v % PBA_WORD_BITS);
                deliver = (pending[v / PBA_WORD_BITS] & bit) != 0 && !held(v);
                if (deliver) {
                    pending[v / PBA_WORD_BITS] &= ~bit;
                }
            }
            if (deliver) {
                irq.trigger(v);
            }
        }
    }

    /** A client read of the table (an offset within it). */
    public synchronized void readTable(long offset, MemorySegment dst) {
        MemorySegment.copy(table, offset, dst, 0, dst.byteSize());
    }

    /** A client write of the table: the touched entries count as programmed from now on. */
    public void writeTable(long offset, MemorySegment src) {
        synchronized (this) {
            MemorySegment.copy(src, 0, table, offset, src.byteSize());
            for (long v = offset / MSIX_ENTRY_SIZE; v <= (offset + src.byteSize() - 1) / MSIX_ENTRY_SIZE; v++) {
                programmed[(int) v] = true;
            }
        }
        deliverHeld();
    }

    /** A client read of the pending-bit array. */
    public synchronized void readPba(long offset, MemorySegment dst) {
        MemorySegment words = MemorySegment.ofArray(pending);
        MemorySegment.copy(words, offset, dst, 0, dst.byteSize());
    }
}

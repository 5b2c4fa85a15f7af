package io.umdev.emudev;

import io.umdev.emudev.pci.MsixTable;
import io.umdev.linux.Errno;
import java.lang.foreign.MemorySegment;

/** The MSI-X table's range of its BAR. */
record MsixTableRegisters(MsixTable msix) implements RegisterHandler {
    @Override
    public int read(long offset, MemorySegment dst) {
        msix.readTable(offset, dst);
        return Errno.OK;
    }

    @Override
    public int write(long offset, MemorySegment src) {
        msix.writeTable(offset, src);
        return Errno.OK;
    }
}

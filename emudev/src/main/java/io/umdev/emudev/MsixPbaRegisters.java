package io.umdev.emudev;

import io.umdev.emudev.pci.MsixTable;
import io.umdev.linux.Errno;
import java.lang.foreign.MemorySegment;

/** The MSI-X pending-bit array's range of its BAR: read-only, writes are ignored as the spec says. */
record MsixPbaRegisters(MsixTable msix) implements RegisterHandler {
    @Override
    public int read(long offset, MemorySegment dst) {
        msix.readPba(offset, dst);
        return Errno.OK;
    }

    @Override
    public int write(long offset, MemorySegment src) {
        return Errno.OK;
    }
}

package io.umdev.emudev.pci;

import static io.umdev.emudev.pci.PciRegisters.BAR_IO_MAX_SIZE;
import static io.umdev.emudev.pci.PciRegisters.BAR_IO_MIN_SIZE;
import static io.umdev.emudev.pci.PciRegisters.BAR_MEMORY_MIN_SIZE;

/**
 * The shape of one base address register: what kind of space it decodes and how much. Sizes are powers
 * of two, as BAR sizing requires. A 64-bit BAR takes two register slots (index and index + 1).
 */
public record PciBar(int index, Kind kind, boolean prefetchable, long size) {
    /** The address space a BAR decodes. */
    public enum Kind {
        MEMORY32,
        MEMORY64,
        IO
    }

    private static final long FOUR_GIB = 1L << 32;

    public PciBar {
        if (index < 0 || index >= PciRegisters.BAR_COUNT || (kind == Kind.MEMORY64 && index == PciRegisters.BAR_COUNT - 1)) {
            throw new IllegalArgumentException("BAR index " + index + " is invalid for a " + kind + " BAR");
        }
        if (Long.bitCount(size) != 1) {
            throw new IllegalArgumentException("BAR size " + size + " is not a power of two");
        }
        switch (kind) {
            case IO -> {
                if (size < BAR_IO_MIN_SIZE || size > BAR_IO_MAX_SIZE || prefetchable) {
                    throw new IllegalArgumentException("an I/O BAR is 4..256 bytes and not prefetchable");
                }
            }
            case MEMORY32 -> {
                if (size < BAR_MEMORY_MIN_SIZE || size > FOUR_GIB / 2) {
                    throw new IllegalArgumentException("a 32-bit memory BAR is 16 bytes..2 GiB");
                }
            }
            case MEMORY64 -> {
                if (size < BAR_MEMORY_MIN_SIZE) {
                    throw new IllegalArgumentException("a memory BAR is at least 16 bytes");
                }
            }
        }
    }

    public static PciBar memory32(int index, long size) {
        return new PciBar(index, Kind.MEMORY32, false, size);
    }

    public static PciBar memory64(int index, long size, boolean prefetchable) {
        return new PciBar(index, Kind.MEMORY64, prefetchable, size);
    }

    public static PciBar io(int index, long size) {
        return new PciBar(index, Kind.IO, false, size);
    }

    /** The low bits of the register: space, type and prefetch flags. */
    int typeBits() {
        return switch (kind) {
            case IO -> PciRegisters.BAR_SPACE_IO;
            case MEMORY32 -> prefetchable ? PciRegisters.BAR_MEMORY_PREFETCH : 0;
            case MEMORY64 -> PciRegisters.BAR_MEMORY_TYPE_64 | (prefetchable ? PciRegisters.BAR_MEMORY_PREFETCH : 0);
        };
    }

    /** Writes the register(s) and their masks so that sizing probes read back {@link #size()}. */
    public void install(PciConfigSpace config) {
        int offset = PciRegisters.barOffset(index);
        long addressMask = ~(size - 1);
        int flags = kind == Kind.IO ? PciRegisters.BAR_IO_FLAGS : PciRegisters.BAR_MEMORY_FLAGS;
        config.set32(offset, typeBits());
        config.setWritable(offset, 4, addressMask & ~flags & 0xffffffffL);
        if (kind == Kind.MEMORY64) {
            config.set32(offset + PciRegisters.BAR_STRIDE, 0);
            config.setWritable(offset + PciRegisters.BAR_STRIDE, 4, (addressMask >>> Integer.SIZE) & 0xffffffffL);
        }
    }

    /** The address the guest programmed, from the register(s). */
    public long address(PciConfigSpace config) {
        int offset = PciRegisters.barOffset(index);
        int flags = kind == Kind.IO ? PciRegisters.BAR_IO_FLAGS : PciRegisters.BAR_MEMORY_FLAGS;
        long low = config.get32(offset) & ~flags & 0xffffffffL;
        return kind == Kind.MEMORY64 ? low | (config.get32(offset + PciRegisters.BAR_STRIDE) << Integer.SIZE) : low;
    }
}

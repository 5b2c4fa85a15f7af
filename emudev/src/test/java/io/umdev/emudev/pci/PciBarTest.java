package io.umdev.emudev.pci;

import static io.umdev.emudev.pci.PciConfigSpaceTest.write;
import static io.umdev.emudev.pci.PciRegisters.barOffset;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** BAR registers as a guest sizes and programs them: writing all ones reads back ~(size-1) | type bits. */
class PciBarTest {
    private static final long ALL_ONES = 0xffffffffL;

    private static PciConfigSpace installed(PciBar... bars) {
        PciConfigSpace config = new PciConfigSpace(256);
        for (PciBar bar : bars) {
            bar.install(config);
        }
        return config;
    }

    private static long sizeLow(PciConfigSpace config, int index) {
        write(config, barOffset(index), 4, ALL_ONES);
        return config.get32(barOffset(index));
    }

    @Test
    void memory32SizingReadsBackTheSizeMask() {
        PciConfigSpace config = installed(PciBar.memory32(0, 4096), PciBar.memory32(1, 16), PciBar.memory32(2, 1L << 31));
        assertEquals(0, config.get32(barOffset(0)), "a 32-bit non-prefetchable BAR's type bits are 0");
        assertEquals(0xfffff000L, sizeLow(config, 0));
        assertEquals(0xfffffff0L, sizeLow(config, 1));
        assertEquals(0x80000000L, sizeLow(config, 2));
    }

    @Test
    void prefetchableMemory32SizingKeepsThePrefetchBit() {
        PciConfigSpace config = installed(new PciBar(3, PciBar.Kind.MEMORY32, true, 1 << 20));
        assertEquals(PciRegisters.BAR_MEMORY_PREFETCH, config.get32(barOffset(3)));
        assertEquals(0xfff00000L | PciRegisters.BAR_MEMORY_PREFETCH, sizeLow(config, 3));
    }

    @Test
    void memory64SizingCoversBothDwords() {
        PciConfigSpace config = installed(PciBar.memory64(0, 1 << 20, false), PciBar.memory64(2, 4096, true));
        assertEquals(PciRegisters.BAR_MEMORY_TYPE_64, config.get32(barOffset(0)));
        assertEquals(0, config.get32(barOffset(1)));
        assertEquals(0xfff00000L | PciRegisters.BAR_MEMORY_TYPE_64, sizeLow(config, 0));
        assertEquals(ALL_ONES, sizeLow(config, 1), "the upper dword of a BAR under 4 GiB sizes to all ones");
        long prefetch64 = PciRegisters.BAR_MEMORY_TYPE_64 | PciRegisters.BAR_MEMORY_PREFETCH;
        assertEquals(0xfffff000L | prefetch64, sizeLow(config, 2));
        assertEquals(ALL_ONES, sizeLow(config, 3));
    }

    @Test
    void memory64SizingAboveFourGibibytesGoesToTheUpperDword() {
        long prefetch64 = PciRegisters.BAR_MEMORY_TYPE_64 | PciRegisters.BAR_MEMORY_PREFETCH;
        PciConfigSpace config = installed(PciBar.memory64(0, 1L << 32, true), PciBar.memory64(2, 1L << 33, true),
                PciBar.memory64(4, 1L << 40, false));
        assertEquals(prefetch64, sizeLow(config, 0), "no address bits in the low dword of a 4 GiB BAR");
        assertEquals(ALL_ONES, sizeLow(config, 1));
        assertEquals(prefetch64, sizeLow(config, 2));
        assertEquals(0xfffffffeL, sizeLow(config, 3), "8 GiB: ~(size-1) >> 32");
        assertEquals(PciRegisters.BAR_MEMORY_TYPE_64, sizeLow(config, 4));
        assertEquals(0xffffff00L, sizeLow(config, 5), "1 TiB");
    }

    @Test
    void ioSizingKeepsTheSpaceBit() {
        PciConfigSpace config = installed(PciBar.io(0, 256), PciBar.io(1, 4), PciBar.io(2, 32));
        assertEquals(PciRegisters.BAR_SPACE_IO, config.get32(barOffset(0)));
        assertEquals(0xffffff01L, sizeLow(config, 0));
        assertEquals(0xfffffffdL, sizeLow(config, 1));
        assertEquals(0xffffffe1L, sizeLow(config, 2));
    }

    @Test
    void typeBitsSurviveAnyWrite() {
        PciConfigSpace config = installed(PciBar.memory32(0, 4096), PciBar.io(1, 16), PciBar.memory64(2, 1 << 16, true),
                new PciBar(4, PciBar.Kind.MEMORY32, true, 4096));
        long[] types = {0, PciRegisters.BAR_SPACE_IO, PciRegisters.BAR_MEMORY_TYPE_64 | PciRegisters.BAR_MEMORY_PREFETCH,
            0, PciRegisters.BAR_MEMORY_PREFETCH};
        for (long value : new long[] {0, ALL_ONES, 0xf, 0x5, 0xa, 0x3, 0x12345678L}) {
            for (int i : new int[] {0, 1, 2, 4}) {
                write(config, barOffset(i), 4, value);
                long flags = i == 1 ? PciRegisters.BAR_IO_FLAGS : PciRegisters.BAR_MEMORY_FLAGS;
                assertEquals(types[i], config.get32(barOffset(i)) & flags, "BAR " + i + " after writing " + value);
                write(config, barOffset(i), 1, value);
                assertEquals(types[i], config.get32(barOffset(i)) & flags, "BAR " + i + " after a byte write");
            }
        }
    }

    @Test
    void programmedAddressesReadBackAligned() {
        PciBar bar0 = PciBar.memory32(0, 4096);
        PciBar bar1 = PciBar.io(1, 64);
        PciBar bar2 = PciBar.memory64(2, 1 << 20, true);
        PciConfigSpace config = installed(bar0, bar1, bar2);
        write(config, barOffset(0), 4, 0xfebf1234L);
        assertEquals(0xfebf1000L, config.get32(barOffset(0)), "bits below the size are not writable");
        assertEquals(0xfebf1000L, bar0.address(config));
        write(config, barOffset(1), 4, 0xc07fL);
        assertEquals(0xc041L, config.get32(barOffset(1)));
        assertEquals(0xc040L, bar1.address(config));
        write(config, barOffset(2), 4, 0xfe312345L);
        write(config, barOffset(3), 4, 0x00000080L);
        assertEquals(0xfe30000cL, config.get32(barOffset(2)));
        assertEquals(0x80fe300000L, bar2.address(config));
    }

    @Test
    void shapesFollowThePciRules() {
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory32(0, 4095), "not a power of two");
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory32(0, 0));
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory32(0, 8), "below 16 bytes");
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory32(0, 1L << 32), "a 32-bit BAR above 2 GiB");
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory64(0, 8, false));
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory64(5, 4096, false), "no slot for the upper half");
        assertThrows(IllegalArgumentException.class, () -> PciBar.io(0, 2));
        assertThrows(IllegalArgumentException.class, () -> PciBar.io(0, 512));
        assertThrows(IllegalArgumentException.class, () -> new PciBar(0, PciBar.Kind.IO, true, 16), "prefetchable I/O");
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory32(6, 4096));
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory32(-1, 4096));
        assertEquals(1L << 40, PciBar.memory64(4, 1L << 40, true).size());
        assertEquals(256, PciBar.io(5, 256).size());
    }
}

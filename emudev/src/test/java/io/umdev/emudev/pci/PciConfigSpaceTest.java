package io.umdev.emudev.pci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The per-bit semantics of a configuration space, as a guest's writes and reads see them. */
class PciConfigSpaceTest {
    private static final int[] WIDTHS = {1, 2, 4};

    /** A guest write of {@code length} bytes of {@code value}, little-endian, as it arrives in a message. */
    static void write(PciConfigSpace config, int offset, int length, long value) {
        MemorySegment src = MemorySegment.ofArray(new byte[length]);
        for (int i = 0; i < length; i++) {
            src.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        config.write(offset, src);
    }

    /** A guest read of {@code length} bytes through {@link PciConfigSpace#read}. */
    static long read(PciConfigSpace config, int offset, int length) {
        MemorySegment dst = MemorySegment.ofArray(new byte[length]);
        config.read(offset, dst);
        long value = 0;
        for (int i = 0; i < length; i++) {
            value |= (dst.get(ValueLayout.JAVA_BYTE, i) & 0xffL) << (8 * i);
        }
        return value;
    }

    @Test
    void isEither256Or4096Bytes() {
        assertEquals(256, new PciConfigSpace(256).size());
        assertFalse(new PciConfigSpace(256).isExpress());
        assertEquals(4096, new PciConfigSpace(4096).size());
        assertTrue(new PciConfigSpace(4096).isExpress());
        for (int size : new int[] {0, 64, 255, 257, 512, 4095, 8192}) {
            assertThrows(IllegalArgumentException.class, () -> new PciConfigSpace(size), "size " + size);
        }
    }

    @Test
    void readOnlyBitsKeepTheirValueUnderWrites() {
        PciConfigSpace config = new PciConfigSpace(256);
        config.set32(0x40, 0x12345678L);
        write(config, 0x40, 4, 0xffffffffL);
        assertEquals(0x12345678L, config.get32(0x40));
        write(config, 0x40, 4, 0);
        assertEquals(0x12345678L, config.get32(0x40));
        write(config, 0x41, 2, 0xa5a5);
        assertEquals(0x12345678L, config.get32(0x40));
    }

    @Test
    void readWriteBitsTakeTheWrittenValueAndOnlyThoseBits() {
        PciConfigSpace config = new PciConfigSpace(256);
        config.set16(0x40, 0x8000);
        config.setWritable(0x40, 2, 0x0f0f);
        write(config, 0x40, 2, 0xffff);
        assertEquals(0x8f0f, config.get16(0x40), "RW bits set, RO bit kept, other RO bits stay 0");
        write(config, 0x40, 2, 0x0102);
        assertEquals(0x8102, config.get16(0x40));
        write(config, 0x40, 2, 0);
        assertEquals(0x8000, config.get16(0x40), "RW bits cleared, the RO bit is still set");
    }

    @Test
    void writeOneToClearBitsClearOnlyWhenWrittenOne() {
        PciConfigSpace config = new PciConfigSpace(256);
        config.set16(0x40, 0xf0f0);
        config.setWriteOneToClear(0x40, 2, 0xf000);
        write(config, 0x40, 2, 0);
        assertEquals(0xf0f0, config.get16(0x40), "writing 0 leaves RW1C bits alone");
        write(config, 0x40, 2, 0x1000);
        assertEquals(0xe0f0, config.get16(0x40), "only the bit written 1 clears");
        write(config, 0x40, 2, 0x00f0);
        assertEquals(0xe0f0, config.get16(0x40), "writing 1 to RO bits neither clears nor sets them");
        write(config, 0x40, 2, 0xffff);
        assertEquals(0x00f0, config.get16(0x40));
        config.setBits(0x40, 2, 0x4000);
        assertEquals(0x40f0, config.get16(0x40), "the device raises a status bit again");
    }

    @Test
    void writableAndWriteOneToClearMasksExcludeEachOther() {
        PciConfigSpace config = new PciConfigSpace(256);
        config.setWriteOneToClear(0x40, 1, 0x0f);
        config.setWritable(0x40, 1, 0x03);
        config.set8(0x40, 0x0c);
        write(config, 0x40, 1, 0x0f);
        assertEquals(0x03, config.get8(0x40), "bits 0-1 became RW (set), bits 2-3 stay RW1C (cleared)");

        config.setWriteOneToClear(0x41, 1, 0xff);
        config.setWritable(0x41, 1, 0xff);
        config.setWriteOneToClear(0x41, 1, 0x80);
        config.set8(0x41, 0x80);
        write(config, 0x41, 1, 0x80);
        assertEquals(0x00, config.get8(0x41), "bit 7 is RW1C again and no longer RW");
    }

    @Test
    void setBitsAndClearBitsLeaveTheOtherBits() {
        PciConfigSpace config = new PciConfigSpace(256);
        config.set32(0x40, 0x0000ff00L);
        config.setBits(0x40, 4, 0x80000001L);
        assertEquals(0x8000ff01L, config.get32(0x40));
        config.clearBits(0x40, 4, 0x00000f01L);
        assertEquals(0x8000f000L, config.get32(0x40));
    }

    @Test
    void accessesOfOneTwoAndFourBytesWorkAtAnyOffset() {
        PciConfigSpace config = new PciConfigSpace(256);
        for (int at = 0; at < 256; at += 4) {
            config.setWritable(at, 4, 0xffffffffL);
        }
        for (int width : WIDTHS) {
            long mask = width == 4 ? 0xffffffffL : (1L << (8 * width)) - 1;
            for (int at = 0; at + width <= 256; at++) {
                long value = (0x8877665544332211L ^ (at * 0x01010101L) ^ width) & mask;
                write(config, at, width, value);
                assertEquals(value, read(config, at, width), "read of " + width + " bytes at " + at);
                assertEquals(value, config.get(at, width), "device view of " + width + " bytes at " + at);
            }
        }
        // Little-endian: a dword written at an unaligned offset reads back byte by byte.
        write(config, 0x41, 4, 0xa1b2c3d4L);
        assertEquals(0xd4, config.get8(0x41));
        assertEquals(0xc3, config.get8(0x42));
        assertEquals(0xb2, config.get8(0x43));
        assertEquals(0xa1, config.get8(0x44));
        assertEquals(0xb2c3, read(config, 0x42, 2));
    }

    @Test
    void accessesOutsideTheSpaceAreRefusedAndChangeNothing() {
        for (int size : new int[] {256, 4096}) {
            PciConfigSpace config = new PciConfigSpace(size);
            for (int at = 0; at < size; at += 4) {
                config.setWritable(at, 4, 0xffffffffL);
            }
            byte[] before = config.snapshot();
            for (int width : WIDTHS) {
                for (int at : new int[] {size - width + 1, size, size + 4, -1, Integer.MIN_VALUE, Integer.MAX_VALUE}) {
                    String what = width + " bytes at " + at + " of " + size;
                    assertThrows(IndexOutOfBoundsException.class, () -> write(config, at, width, -1L), what);
                    assertThrows(IndexOutOfBoundsException.class, () -> read(config, at, width), what);
                    assertThrows(IndexOutOfBoundsException.class, () -> config.get(at, width), what);
                    assertThrows(IndexOutOfBoundsException.class, () -> config.set(at, width, 0), what);
                    assertThrows(IndexOutOfBoundsException.class, () -> config.setWritable(at, width, 0), what);
                    assertThrows(IndexOutOfBoundsException.class, () -> config.setWriteOneToClear(at, width, 0), what);
                    assertThrows(IndexOutOfBoundsException.class, () -> config.watch(at, width, c -> { }), what);
                }
            }
            assertArrayEquals(before, config.snapshot(), "a refused write changed the space");
            // The last bytes themselves are fine.
            write(config, size - 4, 4, 0x01020304L);
            assertEquals(0x01020304L, config.get32(size - 4));
            assertEquals(0x01, read(config, size - 1, 1));
        }
    }

    @Test
    void watchesFireOnGuestWritesTouchingTheirRangeOnly() {
        PciConfigSpace config = new PciConfigSpace(256);
        AtomicInteger fired = new AtomicInteger();
        List<PciConfigSpace> seen = new ArrayList<>();
        config.watch(0x44, 4, c -> {
            fired.incrementAndGet();
            seen.add(c);
        });
        write(config, 0x40, 4, -1L);
        write(config, 0x48, 4, -1L);
        write(config, 0x43, 1, -1L);
        write(config, 0x48, 1, -1L);
        assertEquals(0, fired.get(), "writes beside the range");

        write(config, 0x44, 1, 0);
        write(config, 0x47, 1, 0);
        write(config, 0x42, 4, 0); // overlaps the first two bytes
        write(config, 0x46, 4, 0); // overlaps the last two bytes
        write(config, 0x44, 4, 0);
        write(config, 0x45, 2, 0);
        assertEquals(6, fired.get(), "every write touching the range fires, changed or not");
        assertTrue(seen.stream().allMatch(c -> c == config));
        assertSame(config, seen.get(0));

        config.set32(0x44, 1);
        config.setBits(0x44, 4, 2);
        config.clearBits(0x44, 4, 1);
        config.restore(config.snapshot());
        assertEquals(6, fired.get(), "the device's own changes are not guest writes");
    }

    @Test
    void watchesSeeTheWrittenValue() {
        PciConfigSpace config = new PciConfigSpace(256);
        config.setWritable(0x50, 2, 0xffff);
        List<Integer> values = new ArrayList<>();
        config.watch(0x50, 2, c -> values.add(c.get16(0x50)));
        write(config, 0x50, 2, 0x1234);
        write(config, 0x51, 1, 0xab);
        assertEquals(List.of(0x1234, 0xab34), values);
    }

    @Test
    void restoreReturnsTheContentsButKeepsTheMasks() {
        PciConfigSpace config = new PciConfigSpace(256);
        config.set16(0x40, 0x0001);
        config.setWritable(0x40, 2, 0x00f0);
        config.set8(0x42, 0x80);
        config.setWriteOneToClear(0x42, 1, 0x80);
        byte[] powerOn = config.snapshot();

        write(config, 0x40, 2, 0xffff);
        write(config, 0x42, 1, 0x80);
        assertEquals(0x00f1, config.get16(0x40));
        assertEquals(0, config.get8(0x42));

        config.restore(powerOn);
        assertArrayEquals(powerOn, config.snapshot());
        write(config, 0x40, 2, 0x00a0);
        assertEquals(0x00a1, config.get16(0x40), "RW mask still in place after restore");
        write(config, 0x42, 1, 0x80);
        assertEquals(0, config.get8(0x42), "RW1C mask still in place after restore");

        byte[] snapshot = config.snapshot();
        snapshot[0x40] = 0x55;
        assertEquals(0xa1, config.get8(0x40), "a snapshot is a copy");
        assertThrows(IllegalArgumentException.class, () -> config.restore(new byte[4096]));
        assertThrows(IllegalArgumentException.class, () -> config.restore(new byte[255]));
    }
}

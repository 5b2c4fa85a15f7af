package io.umdev.vfiouser.dma;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.testing.OpenFiles;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** The DMA table with real memfds: mapping, refusal, unmapping, access checks and reader sections. */
class DmaTableTest {
    private static final long P = DmaTable.PAGE_SIZE;
    private static final long TOP = 0xffff_ffff_ffff_f000L;

    private static void assertRefused(int errno, Executable call) {
        DmaException e = assertThrows(DmaException.class, call);
        assertEquals(errno, e.errno(), () -> "expected " + Errno.name(errno) + ", got " + Errno.name(e.errno())
                + ": " + e.getMessage());
    }

    /**
     * Maps with a fresh memfd of {@code fileSize} bytes that must be refused with {@code errno}; checks
     * that the table closed the descriptor and left no mapping behind.
     */
    private static void assertMapRefusedClosingFd(int errno, DmaTable table, long iova, long size, boolean readable,
            boolean writable, long fileSize, long fileOffset) throws Exception {
        OwnedFd fd = Memfd.create("refused", fileSize);
        assertMapRefusedClosingFd(errno, table, iova, size, readable, writable, fd, fileOffset);
    }

    private static void assertMapRefusedClosingFd(int errno, DmaTable table, long iova, long size, boolean readable,
            boolean writable, OwnedFd fd, long fileOffset) {
        int before = table.size();
        long descriptors = OpenFiles.descriptors();
        long mappings = OpenFiles.memfdMappings();
        assertRefused(errno, () -> table.map(iova, size, readable, writable, fd, fileOffset));
        assertFalse(fd.isOpen(), "the table must close the fd of a refused map");
        assertEquals(descriptors - 1, OpenFiles.descriptors(), "descriptor leaked by a refused map");
        assertEquals(mappings, OpenFiles.memfdMappings(), "mapping leaked by a refused map");
        assertEquals(before, table.size());
    }

    private static MemorySegment heap(int size) {
        return MemorySegment.ofArray(new byte[size]);
    }

    private static MemorySegment pattern(int size, int seed) {
        MemorySegment s = heap(size);
        for (int i = 0; i < size; i++) {
            s.set(JAVA_BYTE, i, (byte) (seed + i));
        }
        return s;
    }

    /** A client reached by message, recording what the table asks of it. */
    static final class RecordingMessenger implements DmaMessenger {
        record Call(String op, long iova, byte[] data) {
        }

        final List<Call> calls = new CopyOnWriteArrayList<>();
        volatile byte fill = 0x33;
        volatile DmaException failure;

        @Override
        public void dmaRead(long iova, MemorySegment dst) throws DmaException {
            calls.add(new Call("read", iova, new byte[(int) dst.byteSize()]));
            if (failure != null) {
                throw failure;
            }
            dst.fill(fill);
        }

        @Override
        public void dmaWrite(long iova, MemorySegment src) throws DmaException {
            calls.add(new Call("write", iova, src.toArray(JAVA_BYTE)));
            if (failure != null) {
                throw failure;
            }
        }
    }

    // ---- mapping ----------------------------------------------------------------------------------

    @Test
    void generationChangesOnEveryMapAndUnmapButNotOnRefusalsOrLookups() throws Exception {
        try (DmaTable table = new DmaTable(4)) {
            long g0 = table.generation();
            table.map(0x10_0000, P, true, true, Memfd.create("a", P), 0);
            long g1 = table.generation();
            assertTrue(g1 != g0, "map");
            assertRefused(Errno.EEXIST, () -> table.map(0x10_0000, P, true, true, Memfd.create("b", P), 0));
            int ticket = table.enter();
            try {
                table.region(0x10_0000, 8, DmaDirection.READ);
            } finally {
                table.exit(ticket);
            }
            assertEquals(g1, table.generation(), "a refused map and a lookup change nothing");
            table.unmap(0x10_0000, P);
            long g2 = table.generation();
            assertTrue(g2 != g1, "unmap");
            table.map(0x10_0000, P, true, true, Memfd.create("c", P), 0);
            assertTrue(table.generation() != g2, "a new range at the same address is a new generation");
            long g3 = table.generation();
            table.unmapAll();
            assertTrue(table.generation() != g3, "unmapAll");
        }
    }

    @Test
    void fdBackedRangeSharesBytesWithAnotherMappingOfTheSameMemfd() throws Exception {
        long iova = 0x10_0000;
        try (OwnedFd ram = Memfd.create("ram", 4 * P);
                MappedMemory mine = MappedMemory.map(ram, 0, 4 * P, true);
                DmaTable table = new DmaTable(8)) {
            table.map(iova, 2 * P, true, true, ram.duplicate(), P);
            MemorySegment local = mine.segment();

            int ticket = table.enter();
            try {
                MemorySegment s = table.segment(iova + 8, 16, DmaDirection.WRITE);
                assertEquals(16, s.byteSize());
                s.set(JAVA_LONG_UNALIGNED, 0, 0x1122_3344_5566_7788L);
                s.set(JAVA_LONG_UNALIGNED, 8, -2L);
            } finally {
                table.exit(ticket);
            }
            assertEquals(0x1122_3344_5566_7788L, local.get(JAVA_LONG_UNALIGNED, P + 8));
            assertEquals(-2L, local.get(JAVA_LONG_UNALIGNED, P + 16));

            local.set(JAVA_LONG_UNALIGNED, 2 * P + 64, 0x0bad_cafe_dead_beefL);
            MemorySegment in = heap(8);
            table.read(iova + P + 64, in);
            assertEquals(0x0bad_cafe_dead_beefL, in.get(JAVA_LONG_UNALIGNED, 0));

            MemorySegment out = pattern(100, 7);
            table.write(iova + 1000, out);
            assertArrayEquals(out.toArray(JAVA_BYTE), local.asSlice(P + 1000, 100).toArray(JAVA_BYTE));

            // the file's bytes before the mapped offset are not reachable at the range's start
            local.set(JAVA_LONG_UNALIGNED, 0, 42L);
            table.read(iova, in);
            assertEquals(0L, in.get(JAVA_LONG_UNALIGNED, 0));

            ticket = table.enter();
            try {
                DmaRegion r = table.region(iova, 2 * P, DmaDirection.READ);
                assertEquals(iova, r.iova());
                assertEquals(2 * P, r.size());
                assertEquals(iova + 2 * P, r.end());
                assertEquals(P, r.fileOffset());
                assertTrue(r.readable());
                assertTrue(r.writable());
                assertNotNull(r.fd());
                assertNotNull(r.segment());
            } finally {
                table.exit(ticket);
            }
        }
    }

    @Test
    void mapsAndUnmapsWithoutLeakingDescriptorsOrMappings() throws Exception {
        try (OwnedFd ram = Memfd.create("ram", 4 * P); DmaTable table = new DmaTable(8)) {
            long descriptors = OpenFiles.descriptors();
            long mappings = OpenFiles.memfdMappings();
            table.map(0x10000, 4 * P, true, false, ram.duplicate(), 0);
            assertEquals(descriptors + 1, OpenFiles.descriptors());
            assertEquals(mappings + 1, OpenFiles.memfdMappings());
            table.unmap(0x10000, 4 * P);
            assertEquals(descriptors, OpenFiles.descriptors());
            assertEquals(mappings, OpenFiles.memfdMappings());
            assertEquals(0, table.size());
        }
    }

    @Test
    void refusesMalformedRangesAndClosesTheFd() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, 0, true, true, P, 0);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10001, P, true, true, P, 0);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10800, P, true, true, P, 0);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, P + 1, true, true, 2 * P, 0);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, P / 2, true, true, P, 0);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, P, true, true, 2 * P, 0x800);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, P, true, true, 2 * P, 1);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, P, true, true, 2 * P, -P);
            assertMapRefusedClosingFd(Errno.EINVAL, table, TOP, 2 * P, true, true, 2 * P, 0);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x8000_0000_0000_0000L, 0x8000_0000_0000_1000L, true, true, P, 0);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, P, false, false, P, 0);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0, 0x8000_0000_0000_0000L, true, true, P, 0);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, P, true, true, P, Long.MAX_VALUE & -P);
            assertEquals(0, table.size());
        }
    }

    @Test
    void refusesMalformedMessageBackedRanges() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            assertRefused(Errno.EINVAL, () -> table.map(0x10000, 0, true, true, null, 0));
            assertRefused(Errno.EINVAL, () -> table.map(0x10004, P, true, true, null, 0));
            assertRefused(Errno.EINVAL, () -> table.map(0x10000, 3 * P - 8, true, true, null, 0));
            assertRefused(Errno.EINVAL, () -> table.map(TOP, 2 * P, true, true, null, 0));
            assertRefused(Errno.EINVAL, () -> table.map(-8 * P, -4 * P, true, true, null, 0));
            assertRefused(Errno.EINVAL, () -> table.map(0x10000, P, false, false, null, 0));
            assertEquals(0, table.size());
        }
    }

    @Test
    void refusesAnFdThatIsNotARegularFile() throws Exception {
        try (DmaTable table = new DmaTable(8); EventFd event = EventFd.createNonBlocking()) {
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, P, true, true, event.fd().duplicate(), 0);
            assertTrue(event.signal(), "our own copy of the eventfd is untouched");
        }
    }

    @Test
    void refusesAnAlreadyClosedFd() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            OwnedFd fd = Memfd.create("closed", P);
            fd.close();
            long descriptors = OpenFiles.descriptors();
            assertRefused(Errno.EBADF, () -> table.map(0x10000, P, true, true, fd, 0));
            assertEquals(descriptors, OpenFiles.descriptors());
            assertEquals(0, table.size());
        }
    }

    @Test
    void refusesAMemfdTooShortForOffsetPlusSize() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, 2 * P, true, true, P, 0);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, 2 * P, true, true, 2 * P, P);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, P, true, true, 2 * P, 2 * P);
            assertMapRefusedClosingFd(Errno.EINVAL, table, 0x10000, P, true, true, 0, 0);
            // exactly enough is fine
            table.map(0x10000, P, true, true, Memfd.create("exact", 2 * P), P);
            assertEquals(1, table.size());
        }
    }

    @Test
    void refusesOverlapsInEveryArrangement() throws Exception {
        try (DmaTable table = new DmaTable(16)) {
            long base = 0x10_0000;
            table.map(base, 4 * P, true, true, null, 0);
            long[][] overlapping = {
                {base + P, P}, // inside
                {base, P}, // same start, shorter
                {base + 3 * P, P}, // same end, shorter
                {base - P, 2 * P}, // straddles the start
                {base + 3 * P, 2 * P}, // straddles the end
                {base, 4 * P}, // identical
                {base - P, 6 * P}, // contains
                {base - 16 * P, 17 * P}, // reaches one page in from far below
                {base + 4 * P - P, 100 * P}, // starts on the last page
            };
            for (long[] r : overlapping) {
                assertRefused(Errno.EEXIST, () -> table.map(r[0], r[1], true, true, null, 0));
            }
            assertEquals(1, table.size());
            // touching is not overlapping
            table.map(base - 2 * P, 2 * P, true, false, null, 0);
            table.map(base + 4 * P, P, false, true, null, 0);
            assertEquals(3, table.size());
            // a range spanning a gap and the ranges on both sides of it
            table.map(base + 8 * P, P, true, true, null, 0);
            assertRefused(Errno.EEXIST, () -> table.map(base + 5 * P, 4 * P, true, true, null, 0));
            assertRefused(Errno.EEXIST, () -> table.map(base - 4 * P, 32 * P, true, true, null, 0));
            table.map(base + 5 * P, 3 * P, true, true, null, 0);
            assertEquals(5, table.size());
        }
    }

    @Test
    void refusedOverlappingFdMapClosesItsFdAndMapping() throws Exception {
        try (OwnedFd ram = Memfd.create("ram", 4 * P); DmaTable table = new DmaTable(8)) {
            table.map(0x10000, 4 * P, true, true, ram.duplicate(), 0);
            assertMapRefusedClosingFd(Errno.EEXIST, table, 0x11000, P, true, true, ram.duplicate(), 0);
            assertMapRefusedClosingFd(Errno.EEXIST, table, 0xf000, 2 * P, true, true, P * 2, 0);
            assertEquals(1, table.size());
        }
    }

    @Test
    void refusesMapWhenTableIsFull() throws Exception {
        try (DmaTable table = new DmaTable(2)) {
            assertEquals(2, table.maxMappings());
            table.map(0x10000, P, true, true, null, 0);
            table.map(0x20000, P, true, true, Memfd.create("second", P), 0);
            assertMapRefusedClosingFd(Errno.ENOSPC, table, 0x30000, P, true, true, P, 0);
            assertRefused(Errno.ENOSPC, () -> table.map(0x40000, P, true, true, null, 0));
            table.unmap(0x10000, P);
            table.map(0x30000, P, true, true, Memfd.create("third", P), 0);
            assertEquals(2, table.size());
        }
        assertThrows(IllegalArgumentException.class, () -> new DmaTable(0));
    }

    // ---- unmapping --------------------------------------------------------------------------------

    @Test
    void unmapMustMatchAMapExactly() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            long descriptors = OpenFiles.descriptors();
            table.map(0x10000, 4 * P, true, true, Memfd.create("exact", 4 * P), 0);
            assertRefused(Errno.ENOENT, () -> table.unmap(0x11000, 3 * P)); // starts inside
            assertRefused(Errno.ENOENT, () -> table.unmap(0xf000, 5 * P)); // starts below
            assertRefused(Errno.ENOENT, () -> table.unmap(0, P)); // nothing there at all
            assertRefused(Errno.ENOENT, () -> table.unmap(0x20000, P)); // above
            assertRefused(Errno.EINVAL, () -> table.unmap(0x10000, 2 * P)); // size mismatch
            assertRefused(Errno.EINVAL, () -> table.unmap(0x10000, 8 * P));
            assertRefused(Errno.EINVAL, () -> table.unmap(0x10000, 0));
            assertEquals(1, table.size(), "a refused unmap leaves the range mapped");
            table.read(0x10000 + 4 * P - 8, heap(8));

            table.unmap(0x10000, 4 * P);
            assertEquals(0, table.size());
            assertEquals(descriptors, OpenFiles.descriptors());
            assertRefused(Errno.ENOENT, () -> table.unmap(0x10000, 4 * P));
            assertRefused(Errno.EFAULT, () -> table.read(0x10000, heap(8)));
        }
    }

    @Test
    void unmapAllReleasesEveryRange() throws Exception {
        long descriptors = OpenFiles.descriptors();
        long mappings = OpenFiles.memfdMappings();
        DmaTable table = new DmaTable(8);
        table.unmapAll(); // nothing mapped: nothing to do
        for (int i = 0; i < 3; i++) {
            table.map(0x10000 + i * 2 * P, P, true, i % 2 == 0, Memfd.create("all" + i, P), 0);
        }
        table.map(0x80000, P, true, true, null, 0);
        assertEquals(4, table.size());
        assertEquals(descriptors + 3, OpenFiles.descriptors());
        assertEquals(mappings + 3, OpenFiles.memfdMappings());
        table.unmapAll();
        assertEquals(0, table.size());
        assertEquals(List.of(), table.regions());
        assertEquals(descriptors, OpenFiles.descriptors());
        assertEquals(mappings, OpenFiles.memfdMappings());
        // the table is usable again, and close() releases what is mapped then
        table.map(0x10000, P, true, true, Memfd.create("again", P), 0);
        table.close();
        assertEquals(0, table.size());
        assertEquals(descriptors, OpenFiles.descriptors());
        assertEquals(mappings, OpenFiles.memfdMappings());
    }

    @Test
    void unmappedSegmentThrowsInsteadOfTouchingUnmappedMemory() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            table.map(0x10000, P, true, true, Memfd.create("gone", P), 0);
            MemorySegment s;
            int ticket = table.enter();
            try {
                s = table.segment(0x10000, 8, DmaDirection.READ);
            } finally {
                table.exit(ticket);
            }
            table.unmap(0x10000, P);
            MemorySegment stale = s;
            assertThrows(IllegalStateException.class, () -> stale.get(JAVA_LONG_UNALIGNED, 0));
            assertThrows(IllegalStateException.class, () -> stale.set(JAVA_LONG_UNALIGNED, 0, 1L));
        }
    }

    // ---- access checks ----------------------------------------------------------------------------

    @Test
    void refusesAccessOutsideEveryRange() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            table.map(0x10000, 2 * P, true, true, Memfd.create("a", 2 * P), 0);
            table.map(0x20000, P, true, true, Memfd.create("b", P), 0);
            int ticket = table.enter();
            try {
                for (long address : new long[] {0, 0xfff8, 0x10000 + 2 * P, 0x1f000, 0x20000 + P, TOP, -1L}) {
                    assertRefused(Errno.EFAULT, () -> table.segment(address, 8, DmaDirection.READ));
                    assertRefused(Errno.EFAULT, () -> table.region(address, 1, DmaDirection.WRITE));
                }
            } finally {
                table.exit(ticket);
            }
            assertRefused(Errno.EFAULT, () -> table.read(0xff00, heap(8)));
            assertRefused(Errno.EFAULT, () -> table.write(0x20000 + P, heap(8)));
            // a transfer that runs off the end of a range into a hole
            assertRefused(Errno.EFAULT, () -> table.read(0x10000 + 2 * P - 8, heap(16)));
        }
    }

    @Test
    void segmentMayNotCrossTheEndOfARangeEvenIntoAnAdjacentOne() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            table.map(0x10000, P, true, true, Memfd.create("a", P), 0);
            table.map(0x11000, P, true, true, Memfd.create("b", P), 0);
            int ticket = table.enter();
            try {
                assertEquals(8, table.segment(0x11000 - 8, 8, DmaDirection.READ).byteSize());
                assertEquals(P, table.segment(0x10000, P, DmaDirection.READ).byteSize());
                assertEquals(0, table.segment(0x11000 - 8, 0, DmaDirection.READ).byteSize());
                assertRefused(Errno.EFAULT, () -> table.segment(0x11000 - 8, 9, DmaDirection.READ));
                assertRefused(Errno.EFAULT, () -> table.segment(0x10000, P + 1, DmaDirection.WRITE));
                assertRefused(Errno.EFAULT, () -> table.segment(0x10000, 2 * P, DmaDirection.READ));
                assertRefused(Errno.EFAULT, () -> table.segment(0x10008, -1L, DmaDirection.READ));
                assertRefused(Errno.EFAULT, () -> table.segment(0x10008, Long.MAX_VALUE, DmaDirection.READ));
            } finally {
                table.exit(ticket);
            }
        }
    }

    @Test
    void refusesWritesToReadOnlyRangesAndReadsOfWriteOnlyOnes() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            table.map(0x10000, P, true, false, Memfd.create("ro", P), 0);
            table.map(0x20000, P, false, true, Memfd.create("wo", P), 0);
            table.map(0x30000, P, true, false, null, 0);
            table.setMessenger(new RecordingMessenger());
            int ticket = table.enter();
            try {
                assertRefused(Errno.EPERM, () -> table.segment(0x10000, 8, DmaDirection.WRITE));
                assertRefused(Errno.EPERM, () -> table.region(0x10000, 8, DmaDirection.WRITE));
                assertRefused(Errno.EPERM, () -> table.segment(0x20000, 8, DmaDirection.READ));
                assertSame(table.region(0x10000, 8, DmaDirection.READ), table.region(0x10008, 8, DmaDirection.READ));
                assertTrue(table.region(0x20000, 8, DmaDirection.WRITE).writable());
            } finally {
                table.exit(ticket);
            }
            assertRefused(Errno.EPERM, () -> table.write(0x10000, heap(8)));
            assertRefused(Errno.EPERM, () -> table.read(0x20000, heap(8)));
            assertRefused(Errno.EPERM, () -> table.write(0x30000, heap(8)));
            table.read(0x10000, heap(8));
            table.write(0x20000, heap(8));
        }
    }

    @Test
    void segmentOfAReadOnlyRangeIsReadOnly() throws Exception {
        try (OwnedFd ram = Memfd.create("ro", P);
                MappedMemory mine = MappedMemory.map(ram, 0, P, true);
                DmaTable table = new DmaTable(8)) {
            mine.segment().set(JAVA_LONG_UNALIGNED, 16, 0x7777L);
            table.map(0x10000, P, true, false, ram.duplicate(), 0);
            int ticket = table.enter();
            try {
                MemorySegment s = table.segment(0x10000, P, DmaDirection.READ);
                assertTrue(s.isReadOnly());
                assertEquals(0x7777L, s.get(JAVA_LONG_UNALIGNED, 16));
                // an exception, never a fault on the PROT_READ mapping
                assertThrows(IllegalArgumentException.class, () -> s.set(JAVA_LONG_UNALIGNED, 16, 1L));
                assertThrows(IllegalArgumentException.class, () -> s.fill((byte) 1));
                assertThrows(IllegalArgumentException.class, () -> MemorySegment.copy(heap(8), 0, s, 0, 8));
            } finally {
                table.exit(ticket);
            }
            assertEquals(0x7777L, mine.segment().get(JAVA_LONG_UNALIGNED, 16));
        }
    }

    @Test
    void readAndWriteSpanAdjacentRanges() throws Exception {
        try (OwnedFd a = Memfd.create("a", P);
                OwnedFd b = Memfd.create("b", 2 * P);
                MappedMemory ma = MappedMemory.map(a, 0, P, true);
                MappedMemory mb = MappedMemory.map(b, 0, 2 * P, true);
                DmaTable table = new DmaTable(8)) {
            table.map(0x10000, P, true, true, a.duplicate(), 0);
            table.map(0x11000, P, true, true, b.duplicate(), P);
            MemorySegment out = pattern(32, 1);
            table.write(0x11000 - 12, out);
            assertArrayEquals(out.asSlice(0, 12).toArray(JAVA_BYTE), ma.segment().asSlice(P - 12, 12).toArray(JAVA_BYTE));
            assertArrayEquals(out.asSlice(12, 20).toArray(JAVA_BYTE), mb.segment().asSlice(P, 20).toArray(JAVA_BYTE));
            MemorySegment in = heap(32);
            table.read(0x11000 - 12, in);
            assertArrayEquals(out.toArray(JAVA_BYTE), in.toArray(JAVA_BYTE));
            // all of both ranges at once
            MemorySegment whole = pattern((int) (2 * P), 9);
            table.write(0x10000, whole);
            MemorySegment back = heap((int) (2 * P));
            table.read(0x10000, back);
            assertArrayEquals(whole.toArray(JAVA_BYTE), back.toArray(JAVA_BYTE));
        }
    }

    @Test
    void transferIntoAReadOnlyNeighbourIsRefused() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            table.map(0x10000, P, true, true, Memfd.create("rw", P), 0);
            table.map(0x11000, P, true, false, Memfd.create("ro", P), 0);
            assertRefused(Errno.EPERM, () -> table.write(0x11000 - 8, heap(16)));
            table.read(0x11000 - 8, heap(16));
        }
    }

    @Test
    void zeroLengthTransferIsANoOp() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            table.read(0x1234, heap(0));
            table.write(TOP, heap(0));
        }
    }

    // ---- the upper half of the address space -------------------------------------------------------

    @Test
    void addressesInTheUpperHalfOrderUnsigned() throws Exception {
        long high = 0x8000_0000_0000_0000L;
        long belowHigh = 0x7fff_ffff_ffff_f000L;
        try (OwnedFd ram = Memfd.create("top", 2 * P);
                MappedMemory mine = MappedMemory.map(ram, 0, 2 * P, true);
                DmaTable table = new DmaTable(8)) {
            table.map(TOP - P, 2 * P, true, true, ram.duplicate(), 0); // ends exactly at 2^64
            table.map(high, P, true, true, Memfd.create("high", P), 0);
            table.map(0x1000, P, true, true, null, 0);
            // signed, 0x7fff... would sort above 0x8000... and the overlap would go unseen
            assertRefused(Errno.EEXIST, () -> table.map(belowHigh, 2 * P, true, true, null, 0));
            assertRefused(Errno.EEXIST, () -> table.map(TOP, P, true, true, null, 0));
            assertRefused(Errno.EEXIST, () -> table.map(0x2000, -0x2000L, true, true, null, 0));
            table.map(belowHigh, P, true, true, null, 0);
            table.map(high + P, P, true, true, null, 0);
            List<Long> order = table.regions().stream().map(DmaRegion::iova).toList();
            assertEquals(List.of(0x1000L, belowHigh, high, high + P, TOP - P), order);

            int ticket = table.enter();
            try {
                DmaRegion top = table.region(TOP, P, DmaDirection.WRITE);
                assertEquals(0L, top.end(), "a range ending at the top of the space ends at 0, unsigned");
                MemorySegment last = table.segment(-8L, 8, DmaDirection.WRITE);
                last.set(JAVA_LONG_UNALIGNED, 0, 0x0102_0304_0506_0708L);
                assertRefused(Errno.EFAULT, () -> table.segment(-8L, 16, DmaDirection.READ));
                assertRefused(Errno.EFAULT, () -> table.segment(-8L, -1L, DmaDirection.READ));
                assertEquals(P, table.segment(high, P, DmaDirection.READ).byteSize());
                assertRefused(Errno.EFAULT, () -> table.segment(high + 2 * P, 8, DmaDirection.READ));
            } finally {
                table.exit(ticket);
            }
            assertEquals(0x0102_0304_0506_0708L, mine.segment().get(JAVA_LONG_UNALIGNED, 2 * P - 8));

            MemorySegment in = heap(16);
            mine.segment().set(JAVA_LONG_UNALIGNED, P, 99L);
            table.read(TOP, in);
            assertEquals(99L, in.get(JAVA_LONG_UNALIGNED, 0));
            // a transfer may not wrap from the top of the space to address 0
            assertRefused(Errno.EFAULT, () -> table.read(TOP, heap((int) (2 * P))));
            assertRefused(Errno.EFAULT, () -> table.write(-8L, heap(16)));

            table.unmap(TOP - P, 2 * P);
            table.unmap(high, P);
            assertEquals(List.of(0x1000L, belowHigh, high + P), table.regions().stream().map(DmaRegion::iova).toList());
        }
    }

    // ---- message-backed ranges ---------------------------------------------------------------------

    @Test
    void messageBackedRangeHasNoSegmentAndGoesThroughTheMessenger() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            RecordingMessenger client = new RecordingMessenger();
            table.setMessenger(client);
            table.map(0x40000, 2 * P, true, true, null, 0);
            int ticket = table.enter();
            try {
                assertRefused(Errno.EFAULT, () -> table.segment(0x40000, 8, DmaDirection.READ));
                DmaRegion r = table.region(0x40000, 2 * P, DmaDirection.READ);
                assertNull(r.segment());
                assertNull(r.fd());
            } finally {
                table.exit(ticket);
            }
            MemorySegment in = heap(24);
            table.read(0x40010, in);
            assertEquals(1, client.calls.size());
            assertEquals("read", client.calls.get(0).op());
            assertEquals(0x40010, client.calls.get(0).iova());
            assertEquals(24, client.calls.get(0).data().length);
            assertEquals(0x33, in.get(JAVA_BYTE, 23));

            MemorySegment out = pattern(40, 3);
            table.write(0x40000 + 2 * P - 40, out);
            assertEquals(2, client.calls.size());
            assertEquals("write", client.calls.get(1).op());
            assertEquals(0x40000 + 2 * P - 40, client.calls.get(1).iova());
            assertArrayEquals(out.toArray(JAVA_BYTE), client.calls.get(1).data());
        }
    }

    @Test
    void transferSplitsBetweenMemoryAndMessages() throws Exception {
        try (OwnedFd ram = Memfd.create("ram", P);
                MappedMemory mine = MappedMemory.map(ram, 0, P, true);
                DmaTable table = new DmaTable(8)) {
            RecordingMessenger client = new RecordingMessenger();
            client.fill = 0x44;
            table.setMessenger(client);
            table.map(0x3f000, P, true, true, ram.duplicate(), 0);
            table.map(0x40000, P, true, true, null, 0);
            table.map(0x41000, P, true, true, Memfd.create("after", P), 0);
            mine.segment().asSlice(P - 8).fill((byte) 0x22);

            MemorySegment in = heap((int) P + 16);
            table.read(0x40000 - 8, in);
            assertEquals(1, client.calls.size());
            assertEquals(0x40000, client.calls.get(0).iova());
            assertEquals(P, client.calls.get(0).data().length);
            assertEquals(0x22, in.get(JAVA_BYTE, 7));
            assertEquals(0x44, in.get(JAVA_BYTE, 8));
            assertEquals(0x44, in.get(JAVA_BYTE, P + 7));
            assertEquals(0, in.get(JAVA_BYTE, P + 8));

            table.write(0x40000 - 8, pattern(16, 5));
            assertEquals(0x40000, client.calls.get(1).iova());
            assertArrayEquals(pattern(16, 5).asSlice(8).toArray(JAVA_BYTE), client.calls.get(1).data());
            assertArrayEquals(pattern(16, 5).asSlice(0, 8).toArray(JAVA_BYTE),
                    mine.segment().asSlice(P - 8).toArray(JAVA_BYTE));
        }
    }

    @Test
    void messageBackedTransferWithoutAClientIsNotConnected() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            table.map(0x40000, P, true, true, null, 0);
            assertRefused(Errno.ENOTCONN, () -> table.read(0x40000, heap(8)));
            assertRefused(Errno.ENOTCONN, () -> table.write(0x40000, heap(8)));
            RecordingMessenger client = new RecordingMessenger();
            table.setMessenger(client);
            table.read(0x40000, heap(8));
            table.setMessenger(null);
            assertRefused(Errno.ENOTCONN, () -> table.read(0x40000, heap(8)));
            assertEquals(1, client.calls.size());
        }
    }

    @Test
    void messengerFailurePropagates() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            RecordingMessenger client = new RecordingMessenger();
            client.failure = new DmaException(Errno.EIO, "client went away");
            table.setMessenger(client);
            table.map(0x40000, P, true, true, null, 0);
            assertRefused(Errno.EIO, () -> table.read(0x40000, heap(8)));
            assertRefused(Errno.EIO, () -> table.write(0x40000, heap(8)));
        }
    }

    /**
     * The messenger waits for the client: it must be called outside any reader section, or an unmap
     * (which the client's own messages cause) would wait for the reply that waits for it. Here the
     * messenger itself unmaps another range; held in a section, that would never return.
     */
    @Test
    void messengerIsCalledOutsideAnyReaderSection() throws Exception {
        DmaTable table = new DmaTable(8);
        try {
            table.map(0x10000, P, true, true, Memfd.create("other", P), 0);
            table.map(0x40000, P, true, true, null, 0);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            table.setMessenger(new DmaMessenger() {
                @Override
                public void dmaRead(long iova, MemorySegment dst) throws DmaException {
                    table.unmap(0x10000, P);
                }

                @Override
                public void dmaWrite(long iova, MemorySegment src) {
                }
            });
            CountDownLatch done = new CountDownLatch(1);
            Thread reader = Thread.ofPlatform().daemon().start(() -> {
                try {
                    table.read(0x40000, heap(8));
                } catch (Throwable t) {
                    failure.set(t);
                } finally {
                    done.countDown();
                }
            });
            assertTrue(done.await(10, SECONDS), "the messenger's unmap waited for its own caller");
            reader.join(10_000);
            assertNull(failure.get());
            assertEquals(1, table.size());
        } finally {
            table.close();
        }
    }

    // ---- reader sections ----------------------------------------------------------------------------

    @Test
    void unmapWaitsForAnOpenReaderSection() throws Exception {
        assertRemovalWaitsForReader(table -> table.unmap(0x10000, P));
    }

    @Test
    void unmapAllWaitsForAnOpenReaderSection() throws Exception {
        assertRemovalWaitsForReader(DmaTable::unmapAll);
    }

    @FunctionalInterface
    interface Removal {
        void remove(DmaTable table) throws DmaException;
    }

    private static void assertRemovalWaitsForReader(Removal removal) throws Exception {
        long descriptors = OpenFiles.descriptors();
        long mappings = OpenFiles.memfdMappings();
        try (DmaTable table = new DmaTable(8)) {
            table.map(0x10000, P, true, true, Memfd.create("busy", P), 0);
            CountDownLatch returned = new CountDownLatch(1);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            int ticket = table.enter();
            MemorySegment segment;
            Thread remover;
            try {
                segment = table.segment(0x10000, 8, DmaDirection.WRITE);
                remover = Thread.ofPlatform().daemon().start(() -> {
                    try {
                        removal.remove(table);
                    } catch (Throwable t) {
                        failure.set(t);
                    } finally {
                        returned.countDown();
                    }
                });
                assertFalse(returned.await(300, MILLISECONDS), "the range was unmapped under an open reader section");
                // the reader's memory is still there
                segment.set(JAVA_LONG_UNALIGNED, 0, 5L);
                assertEquals(5L, segment.get(JAVA_LONG_UNALIGNED, 0));
                // a new reader section is not held up by the waiting unmap
                CountDownLatch otherReader = new CountDownLatch(1);
                Thread.ofPlatform().daemon().start(() -> {
                    table.exit(table.enter());
                    otherReader.countDown();
                });
                assertTrue(otherReader.await(10, SECONDS), "a new reader section waited for a pending unmap");
            } finally {
                table.exit(ticket);
            }
            assertTrue(returned.await(10, SECONDS), "unmap did not finish after the reader left");
            remover.join(10_000);
            assertNull(failure.get());
            assertEquals(0, table.size());
            MemorySegment stale = segment;
            assertThrows(IllegalStateException.class, () -> stale.get(JAVA_LONG_UNALIGNED, 0));
        }
        assertEquals(descriptors, OpenFiles.descriptors());
        assertEquals(mappings, OpenFiles.memfdMappings());
    }

    @Test
    void nestedAndInterleavedReaderSectionsAllHoldOffUnmap() throws Exception {
        try (DmaTable table = new DmaTable(8)) {
            table.map(0x10000, P, true, true, null, 0);
            int outer = table.enter();
            int inner = table.enter();
            table.exit(outer);
            CountDownLatch returned = new CountDownLatch(1);
            Thread remover = Thread.ofPlatform().daemon().start(() -> {
                try {
                    table.unmap(0x10000, P);
                } catch (DmaException e) {
                    throw new AssertionError(e);
                } finally {
                    returned.countDown();
                }
            });
            try {
                assertFalse(returned.await(200, MILLISECONDS), "unmap ignored the section still open");
            } finally {
                table.exit(inner);
            }
            assertTrue(returned.await(10, SECONDS));
            remover.join(10_000);
            assertEquals(0, table.size());
        }
    }

    @Test
    void unmapWithNoReadersDoesNotWait() throws Exception {
        // Successive unmaps flip the epoch back and forth; each must find the old epoch empty.
        try (DmaTable table = new DmaTable(8)) {
            for (int i = 0; i < 100; i++) {
                table.map(0x10000, P, true, true, null, 0);
                table.exit(table.enter());
                table.unmap(0x10000, P);
            }
            assertEquals(0, table.size());
        }
    }

    /** What a hostile client can do to a memfd it shared: shrink it under the server's mapping. */
    static void shrinkToZero(OwnedFd fd) throws IOException {
        try (FileChannel file = FileChannel.open(Path.of("/proc/self/fd/" + fd.fd()), StandardOpenOption.WRITE)) {
            file.truncate(0);
        }
    }

    @Test
    void aFileShrunkUnderItsMapFailsTransfersWithEfaultAndTheTableCarriesOn() throws Exception {
        try (DmaTable table = new DmaTable(4)) {
            OwnedFd shrunk = Memfd.create("shrunk", 4 * P);
            OwnedFd kept = Memfd.create("kept", 4 * P);
            OwnedFd client = shrunk.duplicate();
            try {
                table.map(0, 4 * P, true, true, shrunk, 0);
                table.map(16 * P, 4 * P, true, true, kept, 0);
                shrinkToZero(client);
                MemorySegment buffer = MemorySegment.ofArray(new byte[(int) P]);
                DmaException read = assertThrows(DmaException.class, () -> table.read(P, buffer));
                assertEquals(Errno.EFAULT, read.errno());
                assertTrue(read.getMessage().contains("shrunk"), read.getMessage());
                assertEquals(Errno.EFAULT, assertThrows(DmaException.class, () -> table.write(P, buffer)).errno());

                buffer.fill((byte) 7);
                table.write(17 * P, buffer);
                MemorySegment back = MemorySegment.ofArray(new byte[(int) P]);
                table.read(17 * P, back);
                assertArrayEquals(buffer.toArray(JAVA_BYTE), back.toArray(JAVA_BYTE), "the other mapping is untouched");
                table.unmap(0, 4 * P);
                assertEquals(1, table.size());
            } finally {
                client.close();
            }
        }
    }
}

package io.umdev.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** preadv/pwritev through an {@link IoVector} of scattered native buffers, against a real file. */
class IoVectorTest {
    @TempDir
    Path dir;

    @Test
    void scatteredBuffersAreWrittenAndReadBackInOneVectorAndContiguousRangesMerge() throws Exception {
        byte[] data = new byte[3 * 4096 + 512];
        new Random(7).nextBytes(data);
        try (Arena arena = Arena.ofConfined(); RegularFile file = RegularFile.open(dir.resolve("disk"), true, true)) {
            MemorySegment memory = arena.allocate(64 * 1024, 4096);
            // Three pieces: two adjacent in memory (merged into one entry), one elsewhere.
            long[][] pieces = {{0, 4096}, {4096, 4096}, {32768, 4096 + 512}};
            IoVector vector = IoVector.allocate(4);
            long at = 0;
            for (long[] p : pieces) {
                MemorySegment.copy(data, (int) at, memory, ValueLayout.JAVA_BYTE, p[0], (int) p[1]);
                assertTrue(vector.add(memory, p[0], p[1]));
                at += p[1];
            }
            assertEquals(2, vector.count(), "adjacent ranges merge");
            assertEquals(data.length, vector.bytes());
            file.writev(512, vector);
            assertEquals(0, vector.count());

            byte[] onDisk = Files.readAllBytes(dir.resolve("disk"));
            assertArrayEquals(data, Arrays.copyOfRange(onDisk, 512, 512 + data.length));

            MemorySegment back = arena.allocate(64 * 1024, 4096);
            vector.clear();
            vector.add(back, 8192, 4096);
            vector.add(back, 0, 4096);
            vector.add(back, 40960, 4096 + 512);
            assertEquals(data.length, file.readv(512, vector));
            assertArrayEquals(Arrays.copyOfRange(data, 0, 4096), back.asSlice(8192, 4096).toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(Arrays.copyOfRange(data, 4096, 8192), back.asSlice(0, 4096).toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(Arrays.copyOfRange(data, 8192, data.length),
                    back.asSlice(40960, 4096 + 512).toArray(ValueLayout.JAVA_BYTE));

            // At the end of the file a read comes back short, with what there was.
            vector.clear();
            vector.add(back, 0, 8192);
            assertEquals(4096, file.readv(512 + data.length - 4096, vector));
        }
    }

    @Test
    void aFullVectorOrHeapMemoryOrARangeOutsideItsSegmentIsRefused() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment memory = arena.allocate(16384);
            IoVector vector = IoVector.allocate(1);
            assertTrue(vector.add(memory, 0, 100));
            assertFalse(vector.add(memory, 200, 100), "full");
            assertEquals(1, vector.count());
            assertFalse(vector.add(MemorySegment.ofArray(new byte[16]), 0, 16), "heap memory has no address");
            assertThrows(IndexOutOfBoundsException.class, () -> vector.add(memory, 16000, 1000));
            assertThrows(IllegalArgumentException.class, () -> IoVector.allocate(IoVector.IOV_MAX + 1));
        }
    }
}

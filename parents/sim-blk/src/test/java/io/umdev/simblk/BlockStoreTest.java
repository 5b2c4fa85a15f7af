package io.umdev.simblk;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.linux.LinuxException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BlockStoreTest {
    private static final int SECTOR = 512;
    private static final long CAPACITY = 1 << 20;

    @TempDir
    Path dir;

    private BlockStore store(String kind) throws LinuxException {
        return switch (kind) {
            case "ram" -> RamStore.create("test-disk", CAPACITY, false);
            case "file" -> FileStore.open(dir.resolve("disk.img"), CAPACITY, false, SECTOR);
            default -> throw new IllegalArgumentException(kind);
        };
    }

    private static MemorySegment random(Arena arena, int length, long seed) {
        byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        MemorySegment segment = arena.allocate(length);
        MemorySegment.copy(bytes, 0, segment, JAVA_BYTE, 0, length);
        return segment;
    }

    private static byte[] readAll(BlockStore store, Arena arena) throws LinuxException {
        MemorySegment all = arena.allocate(store.capacity());
        store.read(0, all);
        return all.toArray(JAVA_BYTE);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void randomWritesReadBackAsAModelDiskSays(String kind) throws Exception {
        byte[] model = new byte[(int) CAPACITY];
        Random random = new Random(42);
        try (Arena arena = Arena.ofConfined(); BlockStore store = store(kind)) {
            assertEquals(CAPACITY, store.capacity());
            for (int i = 0; i < 200; i++) {
                int length = (1 + random.nextInt(64)) * SECTOR;
                long offset = (long) random.nextInt((int) ((CAPACITY - length) / SECTOR) + 1) * SECTOR;
                MemorySegment data = random(arena, length, i);
                store.write(offset, data);
                MemorySegment.copy(data, JAVA_BYTE, 0, model, (int) offset, length);
            }
            assertArrayEquals(model, readAll(store, arena));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void discardAndWriteZeroesReadBackZeros(String kind) throws Exception {
        try (Arena arena = Arena.ofConfined(); BlockStore store = store(kind)) {
            MemorySegment ones = arena.allocate(CAPACITY).fill((byte) 0xff);
            store.write(0, ones);
            store.discard(3 * SECTOR, 20 * SECTOR);
            store.writeZeroes(100 * SECTOR, 9 * SECTOR, false);
            store.writeZeroes(300 * SECTOR, 17 * SECTOR, true);

            byte[] expected = new byte[(int) CAPACITY];
            Arrays.fill(expected, (byte) 0xff);
            Arrays.fill(expected, 3 * SECTOR, 23 * SECTOR, (byte) 0);
            Arrays.fill(expected, 100 * SECTOR, 109 * SECTOR, (byte) 0);
            Arrays.fill(expected, 300 * SECTOR, 317 * SECTOR, (byte) 0);
            assertArrayEquals(expected, readAll(store, arena));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ram", "file"})
    void accessPastTheCapacityIsRefusedBeforeAnyIo(String kind) throws Exception {
        try (Arena arena = Arena.ofConfined(); BlockStore store = store(kind)) {
            MemorySegment sector = arena.allocate(SECTOR);
            assertThrows(IndexOutOfBoundsException.class, () -> store.read(CAPACITY - SECTOR + 1, sector));
            assertThrows(IndexOutOfBoundsException.class, () -> store.write(CAPACITY, sector));
            assertThrows(IndexOutOfBoundsException.class, () -> store.discard(-SECTOR, SECTOR));
            assertThrows(IndexOutOfBoundsException.class, () -> store.writeZeroes(0, CAPACITY + 1, true));
        }
    }

    @Test
    void fileWritesAreInTheFileAndFlushSyncsIt() throws Exception {
        Path path = dir.resolve("disk.img");
        try (Arena arena = Arena.ofConfined(); FileStore store = FileStore.open(path, CAPACITY, false, SECTOR)) {
            MemorySegment data = random(arena, 8 * SECTOR, 7);
            store.write(5 * SECTOR, data);
            assertEquals(0, store.syncs());
            store.flush();
            assertEquals(1, store.syncs());

            ByteBuffer direct = ByteBuffer.allocate(8 * SECTOR);
            try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
                assertEquals(CAPACITY, channel.size());
                channel.read(direct, 5 * SECTOR);
            }
            assertArrayEquals(data.toArray(JAVA_BYTE), direct.array());
        }
    }

    @Test
    void fileCapacityComesFromTheFileWhenNotGiven() throws Exception {
        Path path = dir.resolve("existing.img");
        byte[] contents = new byte[10 * SECTOR + 100];
        new Random(1).nextBytes(contents);
        Files.write(path, contents);
        try (Arena arena = Arena.ofConfined(); FileStore store = FileStore.open(path, 0, true, SECTOR)) {
            assertEquals(10 * SECTOR, store.capacity());
            assertTrue(store.readOnly());
            assertArrayEquals(Arrays.copyOf(contents, 10 * SECTOR), readAll(store, arena));
            LinuxException e = assertThrows(LinuxException.class, () -> store.write(0, arena.allocate(SECTOR)));
            assertEquals(Errno.EBADF, e.errno());
        }
    }

    @Test
    void smallerFileIsGrownToTheCapacityKeepingItsData() throws Exception {
        Path path = dir.resolve("small.img");
        Files.write(path, new byte[] {1, 2, 3});
        try (Arena arena = Arena.ofConfined(); FileStore store = FileStore.open(path, 4 * SECTOR, false, SECTOR)) {
            byte[] all = readAll(store, arena);
            assertEquals(4 * SECTOR, all.length);
            assertArrayEquals(new byte[] {1, 2, 3, 0}, Arrays.copyOf(all, 4));
        }
        assertEquals(4 * SECTOR, Files.size(path));
    }

    @Test
    void largerFileIsUsedUpToTheCapacityAndKeepsItsTail() throws Exception {
        Path path = dir.resolve("large.img");
        byte[] contents = new byte[8 * SECTOR];
        new Random(2).nextBytes(contents);
        Files.write(path, contents);
        try (Arena arena = Arena.ofConfined(); FileStore store = FileStore.open(path, 4 * SECTOR, false, SECTOR)) {
            assertEquals(4 * SECTOR, store.capacity());
            assertArrayEquals(Arrays.copyOf(contents, 4 * SECTOR), readAll(store, arena));
            assertThrows(IndexOutOfBoundsException.class, () -> store.write(4 * SECTOR, arena.allocate(SECTOR)));
        }
        assertArrayEquals(contents, Files.readAllBytes(path));
    }

    @Test
    void readOnlyFileMustExistAndHoldTheCapacity() throws Exception {
        assertEquals(Errno.ENOENT, assertThrows(LinuxException.class,
                () -> FileStore.open(dir.resolve("absent.img"), CAPACITY, true, SECTOR)).errno());
        Path small = dir.resolve("small.img");
        Files.write(small, new byte[SECTOR]);
        assertEquals(Errno.EINVAL, assertThrows(LinuxException.class,
                () -> FileStore.open(small, 2 * SECTOR, true, SECTOR)).errno());
        Path empty = dir.resolve("empty.img");
        Files.write(empty, new byte[0]);
        assertEquals(Errno.EINVAL, assertThrows(LinuxException.class,
                () -> FileStore.open(empty, 0, false, SECTOR)).errno());
    }

    @Test
    void truncatedFileReadsAsAnIoError() throws Exception {
        Path path = dir.resolve("shrinks.img");
        try (Arena arena = Arena.ofConfined(); FileStore store = FileStore.open(path, CAPACITY, false, SECTOR)) {
            try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE)) {
                channel.truncate(CAPACITY / 2);
            }
            LinuxException e = assertThrows(LinuxException.class,
                    () -> store.read(CAPACITY - SECTOR, arena.allocate(SECTOR)));
            assertEquals(Errno.EIO, e.errno());
        }
    }

    @Test
    void ramDiskStartsZeroed() throws Exception {
        try (Arena arena = Arena.ofConfined(); RamStore store = RamStore.create("zero", CAPACITY, false)) {
            assertArrayEquals(new byte[(int) CAPACITY], readAll(store, arena));
            assertEquals(0, store.syncs());
        }
    }
}

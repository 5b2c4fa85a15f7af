package io.umdev.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Arrays;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RegularFileTest {
    @TempDir
    Path dir;

    private static MemorySegment filled(Arena arena, int length, int seed) {
        MemorySegment segment = arena.allocate(length);
        for (int i = 0; i < length; i++) {
            segment.set(JAVA_BYTE, i, (byte) (seed + i * 31));
        }
        return segment;
    }

    @Test
    void createsAFileOnlyItsOwnerMayRead() throws Exception {
        Path path = dir.resolve("disk.img");
        try (RegularFile file = RegularFile.open(path, true, true)) {
            assertEquals(0, file.size());
        }
        assertEquals(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
                Files.getPosixFilePermissions(path));
    }

    @Test
    void openOfAMissingFileWithoutCreateIsENOENT() {
        LinuxException e = assertThrows(LinuxException.class,
                () -> RegularFile.open(dir.resolve("absent"), true, false));
        assertEquals(Errno.ENOENT, e.errno());
    }

    @Test
    void refusesADirectory() {
        assertEquals(Errno.EINVAL, assertThrows(LinuxException.class, () -> RegularFile.open(dir, false, false)).errno());
    }

    @Test
    void pwriteLandsInTheFileAndPreadReadsItBack() throws Exception {
        Path path = dir.resolve("data");
        try (Arena arena = Arena.ofConfined(); RegularFile file = RegularFile.open(path, true, true)) {
            file.setSize(1 << 16);
            MemorySegment src = filled(arena, 5000, 7);
            file.write(12345, src);
            MemorySegment dst = arena.allocate(5000);
            assertEquals(5000, file.read(12345, dst));
            assertEquals(-1, src.mismatch(dst));

            byte[] direct = new byte[5000];
            try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
                channel.read(ByteBuffer.wrap(direct), 12345);
            }
            assertArrayEquals(src.toArray(JAVA_BYTE), direct);
        }
    }

    @Test
    void readStopsAtTheEndOfTheFile() throws Exception {
        try (Arena arena = Arena.ofConfined(); RegularFile file = RegularFile.open(dir.resolve("short"), true, true)) {
            file.setSize(100);
            assertEquals(40, file.read(60, arena.allocate(64)));
            assertEquals(0, file.read(100, arena.allocate(64)));
        }
    }

    @Test
    void writeToAReadOnlyFileIsEBADF() throws Exception {
        Path path = dir.resolve("ro");
        Files.write(path, new byte[4096]);
        try (Arena arena = Arena.ofConfined(); RegularFile file = RegularFile.open(path, false, false)) {
            LinuxException e = assertThrows(LinuxException.class, () -> file.write(0, arena.allocate(16)));
            assertEquals(Errno.EBADF, e.errno());
        }
    }

    @Test
    void punchedAndZeroedRangesReadAsZerosAndKeepTheSize() throws Exception {
        Path path = dir.resolve("holes");
        int size = 64 * 1024;
        try (Arena arena = Arena.ofConfined(); RegularFile file = RegularFile.open(path, true, true)) {
            file.setSize(size);
            MemorySegment all = filled(arena, size, 3);
            file.write(0, all);
            file.punchHole(4096, 8192);
            try {
                file.zeroRange(20000, 100);
            } catch (LinuxException e) {
                // Not every file system zeroes in place; punching is what the rest relies on.
                assertEquals(Errno.EOPNOTSUPP, e.errno());
                file.punchHole(20000, 100);
            }
            file.sync(false);
            assertEquals(size, file.size());

            byte[] expected = all.toArray(JAVA_BYTE);
            Arrays.fill(expected, 4096, 4096 + 8192, (byte) 0);
            Arrays.fill(expected, 20000, 20100, (byte) 0);
            assertArrayEquals(expected, Files.readAllBytes(path));
        }
    }

    @Test
    void memfdPunchHoleZeroesTheSharedMapping() throws Exception {
        long size = 4 * MappedMemory.PAGE_SIZE;
        try (RegularFile file = RegularFile.adopt(Memfd.create("ram", size));
                MappedMemory map = MappedMemory.map(file.fd(), 0, size, true)) {
            map.segment().fill((byte) 0x5a);
            file.punchHole(MappedMemory.PAGE_SIZE, MappedMemory.PAGE_SIZE);
            assertEquals(0, map.segment().get(JAVA_BYTE, MappedMemory.PAGE_SIZE + 17));
            assertEquals(0x5a, map.segment().get(JAVA_BYTE, 2 * MappedMemory.PAGE_SIZE));
        }
    }

    @Test
    void anExclusiveLockKeepsOtherOpensOutUntilClosed() throws Exception {
        Path path = dir.resolve("locked");
        try (RegularFile writer = RegularFile.open(path, true, true)) {
            writer.lock(true);
            try (RegularFile other = RegularFile.open(path, false, false)) {
                assertEquals(Errno.EAGAIN, assertThrows(LinuxException.class, () -> other.lock(false)).errno());
                assertEquals(Errno.EAGAIN, assertThrows(LinuxException.class, () -> other.lock(true)).errno());
            }
        }
        try (RegularFile a = RegularFile.open(path, false, false); RegularFile b = RegularFile.open(path, false, false)) {
            a.lock(false);
            b.lock(false);
            try (RegularFile writer = RegularFile.open(path, true, false)) {
                assertEquals(Errno.EAGAIN, assertThrows(LinuxException.class, () -> writer.lock(true)).errno());
            }
        }
    }

    @Test
    void callsAfterCloseAreEBADF() throws Exception {
        RegularFile file = RegularFile.open(dir.resolve("closed"), true, true);
        file.close();
        assertEquals(Errno.EBADF, assertThrows(LinuxException.class, () -> file.sync(false)).errno());
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(Errno.EBADF, assertThrows(LinuxException.class, () -> file.read(0, arena.allocate(8))).errno());
        }
    }
}

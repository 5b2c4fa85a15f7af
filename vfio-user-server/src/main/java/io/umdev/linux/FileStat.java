package io.umdev.linux;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** What fstat(2) says of a descriptor that matters here: its type and size. */
public record FileStat(int mode, long size) {
    private static final int S_IFMT = 0170000;
    private static final int S_IFREG = 0100000;
    /** sizeof(struct stat) on the 64-bit Linux ABIs supported (x86_64, aarch64). */
    private static final long STAT_SIZE = 144;
    /** offsetof(struct stat, st_size): the same on x86_64 and aarch64. */
    private static final long SIZE_OFFSET = 48;
    /** offsetof(struct stat, st_mode): x86_64 keeps st_nlink (8 bytes) before it, aarch64 after. */
    private static final long MODE_OFFSET = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> 24;
        case "aarch64" -> 16;
        default -> throw new ExceptionInInitializerError("unsupported architecture " + System.getProperty("os.arch"));
    };

    public static FileStat of(OwnedFd fd) throws LinuxException {
        if (!fd.acquire()) {
            throw new LinuxException("fstat", Errno.EBADF);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment stat = arena.allocate(STAT_SIZE, JAVA_LONG.byteAlignment());
            LibC.fstat(fd.fd(), stat);
            return new FileStat(stat.get(JAVA_INT, MODE_OFFSET), stat.get(JAVA_LONG, SIZE_OFFSET));
        } finally {
            fd.release();
        }
    }

    /** A regular file (memfd and hugetlbfs files are regular too): mmap-able up to its size. */
    public boolean isRegularFile() {
        return (mode & S_IFMT) == S_IFREG;
    }
}

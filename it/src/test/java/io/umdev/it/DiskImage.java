package io.umdev.it;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32;

/** Raw disk images on the host for guest block devices, and checks of what the guest left in them. */
public final class DiskImage {

    private static final int CHUNK = 1 << 20;

    private DiskImage() {
    }

    /**
     * A raw image of {@code bytes} zeros, every block allocated: a sparse or merely fallocated file makes the
     * guest's first writes pay for allocation and skews the baseline.
     */
    public static Path zeroFilled(Path file, long bytes) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocate(CHUNK);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            for (long written = 0; written < bytes; ) {
                zeros.clear().limit((int) Math.min(CHUNK, bytes - written));
                written += channel.write(zeros, written);
            }
            channel.force(true);
        }
        return file;
    }

    /** CRC-32 of {@code length} bytes at {@code offset}: compare with {@link BlockIntegrity#crc32()}. */
    public static long crc32(Path file, long offset, long length) throws IOException {
        CRC32 crc = new CRC32();
        byte[] buffer = new byte[CHUNK];
        try (InputStream in = Files.newInputStream(file)) {
            in.skipNBytes(offset);
            for (long left = length; left > 0; ) {
                int n = in.readNBytes(buffer, 0, (int) Math.min(buffer.length, left));
                if (n == 0) {
                    throw new IOException(file + " ends before offset " + (offset + length));
                }
                crc.update(buffer, 0, n);
                left -= n;
            }
        }
        return crc.getValue();
    }
}

package io.umdev.it;

/**
 * The data-integrity check: a pattern generated from {@code seed} was written over
 * [{@code offset}, {@code offset + bytes}), flushed, read back and compared. {@code crc32} is the CRC-32
 * (as {@link java.util.zip.CRC32}) of what was written, so the host can check the backing store too.
 */
public record BlockIntegrity(
        String dev, long offset, long bytes, long seed, long crc32, long readCrc32, long mismatchedBlocks, boolean verified) {

    static BlockIntegrity from(ResultLine line) {
        return new BlockIntegrity(
                line.text("dev"),
                line.number("offset"),
                line.number("bytes"),
                line.number("seed"),
                line.number("crc32"),
                line.number("read_crc32"),
                line.number("mismatched_blocks"),
                line.flag("verified"));
    }
}

package io.umdev.it;

/**
 * One operation the guest ran on umdev's sample DMA engine, with what it found afterwards.
 *
 * @param status "done", "error" or "stuck" (the engine never finished)
 * @param error the errno the engine reported (0 when done)
 * @param crc32 CRC-32 of the destination bytes after the operation, as {@code java.util.zip.CRC32}
 * @param verified whether the guest found the bytes (or the error) it expected
 */
public record DmaOperation(String op, long src, long dst, int bytes, String status, int error, long crc32,
        boolean verified) {

    static DmaOperation from(ResultLine line) {
        return new DmaOperation(line.text("op"), line.number("src"), line.number("dst"), line.intNumber("bytes"),
                line.text("status"), line.intNumber("error"), line.number("crc32"), line.text("verified").equals("yes"));
    }
}

package io.umdev.it;

/**
 * Sequential throughput: {@code bytes} moved in {@code blockSize} I/Os at queue depth 1 with O_DIRECT.
 * {@code mbPerSecond} is in MB/s of 10^6 bytes.
 */
public record SequentialIo(String dev, IoDirection direction, int blockSize, long bytes, double seconds, double mbPerSecond) {

    static SequentialIo from(ResultLine line) {
        return new SequentialIo(
                line.text("dev"),
                IoDirection.parse(line),
                line.intNumber("bs"),
                line.number("bytes"),
                line.decimal("seconds"),
                line.decimal("mb_per_s"));
    }
}

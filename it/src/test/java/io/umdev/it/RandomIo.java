package io.umdev.it;

/** Random I/O at queue depth 1 with O_DIRECT: {@code ops} I/Os of {@code blockSize} bytes, IOPS and latency. */
public record RandomIo(String dev, IoDirection direction, int blockSize, long ops, double seconds, double iops, Latency latency) {

    static RandomIo from(ResultLine line) {
        return new RandomIo(
                line.text("dev"),
                IoDirection.parse(line),
                line.intNumber("bs"),
                line.number("ops"),
                line.decimal("seconds"),
                line.decimal("iops"),
                Latency.from(line));
    }
}

package io.umdev.it;

/** Per-I/O completion latency in microseconds; percentiles are nearest-rank over every timed I/O. */
public record Latency(double averageMicros, double p50Micros, double p90Micros, double p99Micros, double maxMicros) {

    static Latency from(ResultLine line) {
        return new Latency(
                line.decimal("avg_us"),
                line.decimal("p50_us"),
                line.decimal("p90_us"),
                line.decimal("p99_us"),
                line.decimal("max_us"));
    }

    /** Percentiles never decrease: p50 ≤ p90 ≤ p99 ≤ max. */
    public boolean isMonotonic() {
        return p50Micros <= p90Micros && p90Micros <= p99Micros && p99Micros <= maxMicros;
    }
}

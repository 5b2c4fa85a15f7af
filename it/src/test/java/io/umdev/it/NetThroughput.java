package io.umdev.it;

/** One TCP stream between two guests, as measured by the sender or the receiver; Mbit/s of 10^6 bits. */
public record NetThroughput(String role, String peer, long bytes, double seconds, double mbitPerSecond) {

    static NetThroughput from(ResultLine line) {
        return new NetThroughput(
                line.text("role"),
                line.text("peer"),
                line.number("bytes"),
                line.decimal("seconds"),
                line.decimal("mbit_per_s"));
    }
}

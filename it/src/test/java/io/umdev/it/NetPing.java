package io.umdev.it;

import java.util.Optional;

/** ICMP echo from one guest to its peer (link-local addresses only). Round trips in milliseconds. */
public record NetPing(String peer, int sent, int received, Optional<RoundTrip> roundTrip) {

    static NetPing from(ResultLine line) {
        Optional<RoundTrip> roundTrip = line.optionalText("avg_ms").isEmpty()
                ? Optional.empty()
                : Optional.of(new RoundTrip(line.decimal("min_ms"), line.decimal("avg_ms"), line.decimal("max_ms")));
        return new NetPing(line.text("peer"), line.intNumber("sent"), line.intNumber("received"), roundTrip);
    }

    public record RoundTrip(double minMillis, double averageMillis, double maxMillis) {
    }
}

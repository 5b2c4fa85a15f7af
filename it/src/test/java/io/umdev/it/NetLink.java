package io.umdev.it;

import java.util.Optional;

/** A guest network interface after /init brought it up. */
public record NetLink(String dev, String mac, String operState, boolean carrier, int mtu, Optional<String> transport) {

    static NetLink from(ResultLine line) {
        return new NetLink(
                line.text("dev"),
                line.text("mac"),
                line.text("operstate"),
                line.number("carrier") != 0,
                line.intNumber("mtu"),
                line.optionalText("transport"));
    }
}

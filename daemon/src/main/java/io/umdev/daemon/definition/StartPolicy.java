package io.umdev.daemon.definition;

import java.util.Locale;

/** Whether a defined instance is started when the daemon starts (mdevctl's {@code start}). */
public enum StartPolicy {
    /** Started with the daemon. */
    AUTO,
    /** Started only by {@code umdevctl start}. */
    MANUAL;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code auto} or {@code manual}; null for anything else. */
    public static StartPolicy parseOrNull(String text) {
        return switch (text) {
            case "auto" -> AUTO;
            case "manual" -> MANUAL;
            default -> null;
        };
    }
}

package io.umdev.it;

import java.util.Locale;

/** Whether a block workload line measured reads or writes. */
public enum IoDirection {
    READ, WRITE;

    static IoDirection parse(ResultLine line) {
        String op = line.text("op");
        for (IoDirection direction : values()) {
            if (direction.tag().equals(op)) {
                return direction;
            }
        }
        throw new MalformedResultException("unknown op '" + op + "' in: " + line);
    }

    /** The word the guest prints in {@code op=}. */
    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}

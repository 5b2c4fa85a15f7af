package io.umdev.it;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One machine-readable line printed by the guest: {@code @umdev <kind> key=value key=value ...}.
 *
 * <p>The format is defined by {@code it/provision/guest/init} and {@code umdev-probe.c}: values never
 * contain spaces, lists are comma-separated, {@value #NONE} means "none", numbers are decimal or
 * {@code 0x}-prefixed hexadecimal.
 */
public record ResultLine(String kind, Map<String, String> fields) {

    /** What starts every result line on the guest console. */
    public static final String PREFIX = "@umdev ";
    /** The value the guest prints for an absent value or an empty list. */
    public static final String NONE = "-";

    private static final String HEX_PREFIX = "0x";
    private static final int HEX_RADIX = 16;

    public ResultLine {
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    /** The result line in a console line, or empty when the console line is not one (kernel output, noise). */
    public static Optional<ResultLine> parse(String consoleLine) {
        String line = consoleLine.strip();
        if (!line.startsWith(PREFIX)) {
            return Optional.empty();
        }
        String[] tokens = line.substring(PREFIX.length()).strip().split(" +");
        if (tokens[0].isEmpty() || tokens[0].contains("=")) {
            throw new MalformedResultException("result line without a kind: " + line);
        }
        Map<String, String> fields = new LinkedHashMap<>();
        for (String token : Arrays.asList(tokens).subList(1, tokens.length)) {
            int equals = token.indexOf('=');
            if (equals <= 0) {
                throw new MalformedResultException("token '" + token + "' is not key=value in: " + line);
            }
            fields.put(token.substring(0, equals), token.substring(equals + 1));
        }
        return Optional.of(new ResultLine(tokens[0], fields));
    }

    public boolean is(ResultKind expected) {
        return expected.tag().equals(kind);
    }

    /** A value the line must have. */
    public String text(String key) {
        String value = fields.get(key);
        if (value == null) {
            throw new MalformedResultException("'" + kind + "' line has no " + key + ": " + this);
        }
        return value;
    }

    /** A value that may be absent or {@value #NONE}. */
    public Optional<String> optionalText(String key) {
        return Optional.ofNullable(fields.get(key)).filter(value -> !NONE.equals(value));
    }

    /** A decimal or 0x-hexadecimal number; hexadecimal may use all 64 bits (feature words, addresses). */
    public long number(String key) {
        return parseNumber(key, text(key));
    }

    public int intNumber(String key) {
        return Math.toIntExact(number(key));
    }

    public double decimal(String key) {
        try {
            return Double.parseDouble(text(key));
        } catch (NumberFormatException e) {
            throw new MalformedResultException("'" + key + "' is not a decimal in: " + this, e);
        }
    }

    /** A yes/no value. */
    public boolean flag(String key) {
        return switch (text(key)) {
            case "yes" -> true;
            case "no" -> false;
            default -> throw new MalformedResultException("'" + key + "' is not yes/no in: " + this);
        };
    }

    /** A comma-separated list; {@value #NONE} is the empty list. */
    public List<String> list(String key) {
        String value = text(key);
        return NONE.equals(value) ? List.of() : List.of(value.split(","));
    }

    long parseNumber(String key, String value) {
        try {
            return value.startsWith(HEX_PREFIX)
                    ? Long.parseUnsignedLong(value.substring(HEX_PREFIX.length()), HEX_RADIX)
                    : Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new MalformedResultException("'" + key + "' is not a number in: " + this, e);
        }
    }

    @Override
    public String toString() {
        StringBuilder line = new StringBuilder(PREFIX).append(kind);
        fields.forEach((key, value) -> line.append(' ').append(key).append('=').append(value));
        return line.toString();
    }
}

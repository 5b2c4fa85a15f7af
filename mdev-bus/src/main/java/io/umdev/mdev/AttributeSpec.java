package io.umdev.mdev;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One attribute a type accepts at create time (mac, mtu, max_vqp, capacity, backing file, ...): its name,
 * kind, range, default and description. It turns the string a user gave into a typed value, or refuses
 * it with an {@link MdevException} naming the attribute ({@code attrs.<name>}) and saying what is
 * accepted.
 *
 * <p>Immutable; built from a factory per kind and refined with the {@code with*} methods, which check
 * the parent author's own values (a default outside the range is a programming error).
 *
 * <pre>{@code
 * AttributeSpec.integer("mtu", "MTU of the link in bytes").withRange(68, 65535).withDefault("1500")
 * AttributeSpec.mac("mac", "station address; random if omitted")
 * AttributeSpec.size("capacity", "disk size").withRange(512, 1L << 40).withMultipleOf(512).withDefault("64M")
 * }</pre>
 */
public final class AttributeSpec {
    /** What values an attribute takes, and the Java type it parses to. */
    public enum Kind {
        /** Free text ({@link String}); the range bounds its length. No control characters. */
        STRING(String.class),
        /** A whole number ({@link Long}), decimal or 0x-hex; the range bounds it. */
        INT(Long.class),
        /** {@link Boolean}: true/false, yes/no, on/off, 1/0. */
        BOOL(Boolean.class),
        /** A unicast, non-zero {@link MacAddress}. */
        MAC(MacAddress.class),
        /** A byte count ({@link Long}) with an optional binary suffix: 512, 4K, 64M, 1G, 2GiB. */
        SIZE(Long.class),
        /** An absolute file system {@link Path}. Existence is the parent's business. */
        PATH(Path.class),
        /** One of a fixed set of words ({@link String}). */
        ENUM(String.class);

        private final Class<?> valueType;

        Kind(Class<?> valueType) {
            this.valueType = valueType;
        }

        /** The Java type of a parsed value. */
        public Class<?> valueType() {
            return valueType;
        }

        /** The lower-case name used in listings and JSON: {@code int}, {@code size}, ... */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]{0,63}");
    private static final Pattern SIZE_FORM = Pattern.compile("([0-9]+)([kmgtpe]?)(ib|b)?", Pattern.CASE_INSENSITIVE);
    private static final String SIZE_SUFFIXES = "kmgtpe";
    private static final int MAX_STRING = 4096;
    private static final int MAX_PATH = 4095;

    private final String name;
    private final Kind kind;
    private final String description;
    private final long min;
    private final long max;
    private final long multipleOf;
    private final List<String> choices;
    private final String defaultRaw;
    private final boolean required;

    private AttributeSpec(String name, Kind kind, String description, long min, long max, long multipleOf,
            List<String> choices, String defaultRaw, boolean required) {
        this.name = name;
        this.kind = kind;
        this.description = description;
        this.min = min;
        this.max = max;
        this.multipleOf = multipleOf;
        this.choices = choices;
        this.defaultRaw = defaultRaw;
        this.required = required;
    }

    private static AttributeSpec of(String name, Kind kind, String description, long min, long max,
            List<String> choices) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(
                    "an attribute name is a lower-case letter then up to 63 letters, digits or '_': '" + name + "'");
        }
        return new AttributeSpec(name, kind, description, min, max, 1, choices, null, false);
    }

    /** Text of 0 to 255 characters unless {@link #withRange} says otherwise. */
    public static AttributeSpec string(String name, String description) {
        return of(name, Kind.STRING, description, 0, 255, List.of());
    }

    /** A whole number, any {@code long} unless {@link #withRange} says otherwise. */
    public static AttributeSpec integer(String name, String description) {
        return of(name, Kind.INT, description, Long.MIN_VALUE, Long.MAX_VALUE, List.of());
    }

    public static AttributeSpec bool(String name, String description) {
        return of(name, Kind.BOOL, description, 0, 0, List.of());
    }

    public static AttributeSpec mac(String name, String description) {
        return of(name, Kind.MAC, description, 0, 0, List.of());
    }

    /** A byte count, 0 to {@code Long.MAX_VALUE} unless {@link #withRange} says otherwise. */
    public static AttributeSpec size(String name, String description) {
        return of(name, Kind.SIZE, description, 0, Long.MAX_VALUE, List.of());
    }

    public static AttributeSpec path(String name, String description) {
        return of(name, Kind.PATH, description, 0, 0, List.of());
    }

    /** One of {@code choices} (at least one; each a non-empty word). */
    public static AttributeSpec choice(String name, String description, List<String> choices) {
        List<String> copy = List.copyOf(choices);
        if (copy.isEmpty() || copy.stream().anyMatch(c -> c.isEmpty() || !c.strip().equals(c))
                || copy.stream().distinct().count() != copy.size()) {
            throw new IllegalArgumentException("attribute " + name + ": choices must be distinct non-empty words: "
                    + copy);
        }
        return of(name, Kind.ENUM, description, 0, 0, copy);
    }

    /**
     * Bounds, inclusive: the value of an INT, the byte count of a SIZE, the length of a STRING.
     *
     * @throws IllegalArgumentException for another kind, for min &gt; max, or if the default falls outside
     */
    public AttributeSpec withRange(long min, long max) {
        if (kind != Kind.INT && kind != Kind.SIZE && kind != Kind.STRING) {
            throw new IllegalArgumentException("attribute " + name + ": a " + kind.label() + " has no range");
        }
        if (min > max || (kind != Kind.INT && min < 0) || (kind == Kind.STRING && max > MAX_STRING)) {
            throw new IllegalArgumentException("attribute " + name + ": bad range " + min + ".." + max);
        }
        return checked(new AttributeSpec(name, kind, description, min, max, multipleOf, choices, defaultRaw, required));
    }

    /** Values of an INT or SIZE must be multiples of {@code step} (e.g. 512 for a disk capacity). */
    public AttributeSpec withMultipleOf(long step) {
        if (kind != Kind.INT && kind != Kind.SIZE) {
            throw new IllegalArgumentException("attribute " + name + ": only int and size values have a step");
        }
        if (step < 1) {
            throw new IllegalArgumentException("attribute " + name + ": the step must be positive: " + step);
        }
        return checked(new AttributeSpec(name, kind, description, min, max, step, choices, defaultRaw, required));
    }

    /** The value used when the user gives none; parsed now, so a bad default fails at the parent's start. */
    public AttributeSpec withDefault(String value) {
        Objects.requireNonNull(value, "value");
        if (required) {
            throw new IllegalArgumentException("attribute " + name + " is required, so it has no default");
        }
        return checked(new AttributeSpec(name, kind, description, min, max, multipleOf, choices, value, false));
    }

    /** The user must give a value: there is no sensible default. */
    public AttributeSpec asRequired() {
        if (defaultRaw != null) {
            throw new IllegalArgumentException("attribute " + name + " has a default, so it cannot be required");
        }
        return new AttributeSpec(name, kind, description, min, max, multipleOf, choices, null, true);
    }

    private static AttributeSpec checked(AttributeSpec spec) {
        if (spec.defaultRaw != null) {
            try {
                spec.parse(spec.defaultRaw);
            } catch (MdevException e) {
                throw new IllegalArgumentException("bad default: " + e.getMessage(), e);
            }
        }
        return spec;
    }

    public String name() {
        return name;
    }

    public Kind kind() {
        return kind;
    }

    public String description() {
        return description;
    }

    /** The lower bound (value, byte count or length) for INT, SIZE and STRING. */
    public OptionalLong minimum() {
        return hasRange() ? OptionalLong.of(min) : OptionalLong.empty();
    }

    /** The upper bound (value, byte count or length) for INT, SIZE and STRING. */
    public OptionalLong maximum() {
        return hasRange() ? OptionalLong.of(max) : OptionalLong.empty();
    }

    /** The step values must be multiples of, if any (INT and SIZE). */
    public OptionalLong multipleOf() {
        return multipleOf > 1 ? OptionalLong.of(multipleOf) : OptionalLong.empty();
    }

    /** The accepted words of an ENUM; empty for other kinds. */
    public List<String> choices() {
        return choices;
    }

    /** The default as written by the parent, if there is one. */
    public Optional<String> defaultValue() {
        return Optional.ofNullable(defaultRaw);
    }

    public boolean isRequired() {
        return required;
    }

    private boolean hasRange() {
        return kind == Kind.INT || kind == Kind.SIZE || kind == Kind.STRING;
    }

    /** The field name used in errors: {@code attrs.<name>}. */
    public String field() {
        return "attrs." + name;
    }

    /**
     * Parses and validates one value given by a user.
     *
     * @return a value of {@link Kind#valueType()}
     * @throws MdevException EINVAL naming the attribute, with what is accepted
     */
    public Object parse(String raw) throws MdevException {
        if (raw == null) {
            throw refuse("has no value", "give one as " + name + "=VALUE");
        }
        return switch (kind) {
            case STRING -> parseString(raw);
            case INT -> parseInt(raw);
            case BOOL -> parseBool(raw);
            case MAC -> parseMac(raw);
            case SIZE -> parseSize(raw);
            case PATH -> parsePath(raw);
            case ENUM -> parseChoice(raw);
        };
    }

    private MdevException refuse(String problem, String accepted) {
        return MdevException.invalid(field(), "attribute '" + name + "' " + problem + "; " + accepted);
    }

    private static String quote(String raw) {
        String shown = raw.length() > 64 ? raw.substring(0, 64) + "..." : raw;
        StringBuilder s = new StringBuilder("'");
        shown.codePoints().forEach(c -> {
            if (Character.isISOControl(c)) {
                s.append(String.format("\\x%02x", c));
            } else {
                s.appendCodePoint(c);
            }
        });
        return s.append('\'').toString();
    }

    private String parseString(String raw) throws MdevException {
        if (raw.chars().anyMatch(Character::isISOControl)) {
            throw refuse("contains a control character: " + quote(raw), "use printable text");
        }
        if (raw.length() < min || raw.length() > max) {
            throw refuse("is " + raw.length() + " characters long", "it takes " + min + " to " + max + " characters");
        }
        return raw;
    }

    private Long parseInt(String raw) throws MdevException {
        long value;
        try {
            boolean hex = raw.startsWith("0x") || raw.startsWith("0X");
            value = hex ? Long.parseUnsignedLong(raw.substring(2), 16) : Long.parseLong(raw);
            if (hex && value < 0) {
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            throw refuse(quote(raw) + " is not a whole number", "expected an integer in " + rangeText());
        }
        checkRange(raw, value);
        return value;
    }

    private void checkRange(String raw, long value) throws MdevException {
        if (value < min || value > max) {
            throw refuse(quote(raw) + " is " + (value < min ? "below the minimum " + show(min)
                    : "above the maximum " + show(max)), "accepted: " + rangeText());
        }
        if (value % multipleOf != 0) {
            throw refuse(quote(raw) + " is not a multiple of " + show(multipleOf),
                    "accepted: multiples of " + show(multipleOf) + " in " + rangeText());
        }
    }

    private String show(long value) {
        return kind == Kind.SIZE ? formatSize(value) : Long.toString(value);
    }

    private String rangeText() {
        return show(min) + ".." + show(max);
    }

    /** A byte count in the largest binary unit that divides it: 4096 is "4K", 65536000 "62500K". */
    public static String formatSize(long bytes) {
        if (bytes <= 0) {
            return Long.toString(bytes);
        }
        int unit = 0;
        long value = bytes;
        while (unit < SIZE_SUFFIXES.length() && value % 1024 == 0) {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? Long.toString(value) : value + SIZE_SUFFIXES.substring(unit - 1, unit).toUpperCase(Locale.ROOT);
    }

    private Boolean parseBool(String raw) throws MdevException {
        return switch (raw.toLowerCase(Locale.ROOT)) {
            case "true", "yes", "on", "1" -> Boolean.TRUE;
            case "false", "no", "off", "0" -> Boolean.FALSE;
            default -> throw refuse(quote(raw) + " is not a boolean", "use true or false (or yes/no, on/off, 1/0)");
        };
    }

    private MacAddress parseMac(String raw) throws MdevException {
        MacAddress mac = MacAddress.parseOrNull(raw);
        if (mac == null) {
            throw refuse(quote(raw) + " is not a MAC address", "write six hex octets, e.g. 52:54:00:12:34:56");
        }
        if (mac.isZero()) {
            throw refuse("is all zeros", "give a unicast address, e.g. 52:54:00:12:34:56");
        }
        if (mac.isMulticast()) {
            throw refuse(quote(raw) + " is a multicast address (the first octet is odd)",
                    "give a unicast address, e.g. 52:54:00:12:34:56");
        }
        return mac;
    }

    private Long parseSize(String raw) throws MdevException {
        Matcher m = SIZE_FORM.matcher(raw);
        if (!m.matches() || (m.group(2).isEmpty() && m.group(3) != null && !m.group(3).equalsIgnoreCase("b"))) {
            throw refuse(quote(raw) + " is not a size", "write bytes with an optional binary suffix, e.g. 4096, 64M, 1G, 2GiB");
        }
        long value;
        try {
            value = Long.parseLong(m.group(1));
            String suffix = m.group(2).toLowerCase(Locale.ROOT);
            int shift = suffix.isEmpty() ? 0 : 10 * (SIZE_SUFFIXES.indexOf(suffix) + 1);
            if (shift > 0) {
                if (value > (Long.MAX_VALUE >> shift)) {
                    throw new NumberFormatException();
                }
                value <<= shift;
            }
        } catch (NumberFormatException e) {
            throw refuse(quote(raw) + " is too large", "accepted: " + rangeText());
        }
        checkRange(raw, value);
        return value;
    }

    private Path parsePath(String raw) throws MdevException {
        if (raw.isEmpty() || raw.length() > MAX_PATH || raw.indexOf('\0') >= 0) {
            throw refuse("is not a usable path: " + quote(raw), "give an absolute path of at most " + MAX_PATH + " bytes");
        }
        Path path;
        try {
            path = Path.of(raw);
        } catch (InvalidPathException e) {
            throw refuse("is not a usable path: " + quote(raw), "give an absolute path");
        }
        if (!path.isAbsolute()) {
            throw refuse(quote(raw) + " is a relative path", "give an absolute path: the daemon has no useful working directory");
        }
        return path.normalize();
    }

    private String parseChoice(String raw) throws MdevException {
        if (!choices.contains(raw)) {
            throw refuse(quote(raw) + " is not one of its values", "accepted: " + String.join(", ", choices));
        }
        return raw;
    }

    /** One line for listings: {@code int 68..65535, default 1500}. */
    public String summary() {
        StringBuilder s = new StringBuilder(kind.label());
        switch (kind) {
            case INT, SIZE -> {
                if (min != (kind == Kind.INT ? Long.MIN_VALUE : 0) || max != Long.MAX_VALUE) {
                    s.append(' ').append(rangeText());
                }
                if (multipleOf > 1) {
                    s.append(", multiple of ").append(show(multipleOf));
                }
            }
            case STRING -> s.append(" (").append(min).append("..").append(max).append(" chars)");
            case ENUM -> s.append(" {").append(String.join("|", choices)).append('}');
            default -> {
            }
        }
        if (required) {
            s.append(", required");
        } else if (defaultRaw != null) {
            s.append(", default ").append(defaultRaw);
        } else {
            s.append(", optional");
        }
        return s.toString();
    }

    @Override
    public String toString() {
        return name + ": " + summary();
    }
}

package io.umdev.mdev;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.stream.Collectors;

/**
 * The validated attributes of one instance: what the user gave, in the order given (that is what a
 * definition stores, like mdevctl's ordered {@code attrs}), and the typed value of every attribute of
 * the type, given or defaulted. Immutable.
 */
public final class Attributes {
    /** No attributes given, for a type that accepts none (shared, so such instances cost nothing here). */
    public static final Attributes EMPTY = new Attributes(Collections.emptyNavigableMap(), Map.of(), Map.of());

    private final SequencedMap<String, String> given;
    private final Map<String, Object> values;
    private final Map<String, String> effective;

    private Attributes(SequencedMap<String, String> given, Map<String, Object> values, Map<String, String> effective) {
        this.given = given;
        this.values = values;
        this.effective = effective;
    }

    /**
     * Validates {@code raw} (name to value, in the user's order) against {@code specs}: every name must
     * be an attribute of the type, every value must parse, and every required attribute must be there.
     *
     * @throws MdevException EINVAL naming the first attribute at fault ({@code attrs.<name>})
     */
    public static Attributes parse(String typeName, List<AttributeSpec> specs, SequencedMap<String, String> raw)
            throws MdevException {
        if (raw.isEmpty() && specs.isEmpty()) {
            return EMPTY;
        }
        for (String name : raw.keySet()) {
            if (specs.stream().noneMatch(s -> s.name().equals(name))) {
                String accepted = specs.isEmpty() ? "it accepts no attributes"
                        : "it accepts: " + specs.stream().map(AttributeSpec::name).collect(Collectors.joining(", "));
                throw MdevException.invalid("attrs." + name,
                        "type " + typeName + " has no attribute '" + name + "'; " + accepted);
            }
        }
        LinkedHashMap<String, String> givenCopy = new LinkedHashMap<>();
        LinkedHashMap<String, Object> values = new LinkedHashMap<>();
        LinkedHashMap<String, String> effective = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : raw.entrySet()) {
            AttributeSpec spec = specs.stream().filter(s -> s.name().equals(e.getKey())).findFirst().orElseThrow();
            values.put(e.getKey(), spec.parse(e.getValue()));
            givenCopy.put(e.getKey(), e.getValue());
        }
        for (AttributeSpec spec : specs) {
            String value = raw.get(spec.name());
            if (value == null && spec.isRequired()) {
                throw MdevException.invalid(spec.field(), "attribute '" + spec.name() + "' is required by type "
                        + typeName + "; give it as " + spec.name() + "=VALUE (" + spec.summary() + ")");
            }
            if (value == null && spec.defaultValue().isPresent()) {
                value = spec.defaultValue().get();
                values.put(spec.name(), spec.parse(value));
            }
            if (value != null) {
                effective.put(spec.name(), value);
            }
        }
        return new Attributes(Collections.unmodifiableSequencedMap(givenCopy), Collections.unmodifiableMap(values),
                Collections.unmodifiableMap(effective));
    }

    /** The attributes the user gave, as given, in the order given. */
    public SequencedMap<String, String> given() {
        return given;
    }

    /** Every attribute that has a value, given or default, as text, in the type's order. */
    public Map<String, String> effective() {
        return effective;
    }

    /** The typed value of an attribute, given or default; empty if it has neither. */
    public Optional<Object> value(String name) {
        return Optional.ofNullable(values.get(name));
    }

    /**
     * The typed value of an attribute as {@code type} ({@link AttributeSpec.Kind#valueType()}).
     *
     * @throws ClassCastException if the attribute's kind parses to another type
     */
    public <T> Optional<T> get(String name, Class<T> type) {
        return value(name).map(type::cast);
    }

    /** The value of an INT or SIZE attribute that has a default or is required. */
    public long getLong(String name) {
        return get(name, Long.class).orElseThrow(() -> new IllegalStateException("attribute " + name + " has no value"));
    }

    /** The value of a BOOL attribute that has a default or is required. */
    public boolean getBoolean(String name) {
        return get(name, Boolean.class).orElseThrow(() -> new IllegalStateException("attribute " + name + " has no value"));
    }

    /** The value of a STRING or ENUM attribute that has a default or is required. */
    public String getString(String name) {
        return get(name, String.class).orElseThrow(() -> new IllegalStateException("attribute " + name + " has no value"));
    }

    public boolean isEmpty() {
        return values.isEmpty() && given.isEmpty();
    }

    @Override
    public String toString() {
        return effective.toString();
    }
}

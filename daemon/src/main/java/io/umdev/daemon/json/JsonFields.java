package io.umdev.daemon.json;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Reads the fields of one JSON object strictly: each read names its field and its type, and
 * {@link #finish()} refuses whatever was not read. Every mistake becomes a {@link JsonFieldException}
 * naming the field and saying what was expected.
 */
public final class JsonFields {
    private static final Pattern UUID_FORM =
            Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    /** An example for error messages. */
    public static final String UUID_EXAMPLE = "0b4f5c2e-3d8a-4f1e-9a6b-1c2d3e4f5a6b";

    private final JsonNode node;
    private final String prefix;
    private final Set<String> read = new HashSet<>();

    private JsonFields(JsonNode node, String prefix) {
        this.node = node;
        this.prefix = prefix;
    }

    /**
     * @param what what the object is, for the error when it is not one ("the request")
     * @param prefix prepended to field names in errors ("" at the top level, "instances[2]." inside)
     */
    public static JsonFields of(JsonNode node, String what, String prefix) throws JsonFieldException {
        if (node == null || !node.isObject()) {
            throw new JsonFieldException(prefix.isEmpty() ? null : prefix.substring(0, prefix.length() - 1),
                    what + " must be a JSON object, not " + describe(node));
        }
        return new JsonFields(node, prefix);
    }

    public static JsonFields of(JsonNode node, String what) throws JsonFieldException {
        return of(node, what, "");
    }

    private static String describe(JsonNode node) {
        if (node == null || node.isMissingNode()) {
            return "nothing";
        }
        return switch (node.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            default -> node.getNodeType().name().toLowerCase(Locale.ROOT);
        };
    }

    private String field(String name) {
        return prefix + name;
    }

    private JsonFieldException wrongType(String name, String expected, JsonNode value) {
        return new JsonFieldException(field(name), "field '" + field(name) + "' must be " + expected + ", not "
                + describe(value));
    }

    private JsonNode take(String name) {
        read.add(name);
        return node.get(name);
    }

    public boolean has(String name) {
        return node.has(name);
    }

    public Optional<String> string(String name) throws JsonFieldException {
        JsonNode value = take(name);
        if (value == null) {
            return Optional.empty();
        }
        if (!value.isTextual()) {
            throw wrongType(name, "a string", value);
        }
        return Optional.of(value.textValue());
    }

    public String requireString(String name) throws JsonFieldException {
        return string(name).orElseThrow(() -> new JsonFieldException(field(name),
                "field '" + field(name) + "' is missing"));
    }

    public Optional<Boolean> bool(String name) throws JsonFieldException {
        JsonNode value = take(name);
        if (value == null) {
            return Optional.empty();
        }
        if (!value.isBoolean()) {
            throw wrongType(name, "true or false", value);
        }
        return Optional.of(value.booleanValue());
    }

    public Optional<UUID> uuid(String name) throws JsonFieldException {
        Optional<String> text = string(name);
        if (text.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(parseUuid(field(name), text.get()));
    }

    public UUID requireUuid(String name) throws JsonFieldException {
        return uuid(name).orElseThrow(() -> new JsonFieldException(field(name), "field '" + field(name)
                + "' is missing: give the instance's UUID"));
    }

    /** A UUID in its canonical 8-4-4-4-12 form (any case); {@link UUID#fromString} alone is too lenient. */
    public static UUID parseUuid(String field, String text) throws JsonFieldException {
        if (!UUID_FORM.matcher(text).matches()) {
            String shown = text.length() > 60 ? text.substring(0, 60) + "..." : text;
            throw new JsonFieldException(field, "'" + shown + "' is not a UUID: write 8-4-4-4-12 hex digits, e.g. "
                    + UUID_EXAMPLE);
        }
        return UUID.fromString(text);
    }

    /** A list of strings. */
    public Optional<List<String>> strings(String name) throws JsonFieldException {
        JsonNode value = take(name);
        if (value == null) {
            return Optional.empty();
        }
        if (!value.isArray()) {
            throw wrongType(name, "an array of strings", value);
        }
        List<String> list = new ArrayList<>();
        for (int i = 0; i < value.size(); i++) {
            JsonNode item = value.get(i);
            if (!item.isTextual()) {
                throw new JsonFieldException(field(name) + "[" + i + "]", "field '" + field(name) + "[" + i
                        + "]' must be a string, not " + describe(item));
            }
            list.add(item.textValue());
        }
        return Optional.of(Collections.unmodifiableList(list));
    }

    /**
     * mdevctl's ordered attribute list, {@code [{"mtu": "9000"}, {"mac": "52:54:00:12:34:56"}]}: each
     * element an object of one name; values strings (integers and booleans are taken as their text).
     */
    public Optional<SequencedMap<String, String>> attrs(String name) throws JsonFieldException {
        JsonNode value = take(name);
        if (value == null) {
            return Optional.empty();
        }
        String f = field(name);
        if (!value.isArray()) {
            throw new JsonFieldException(f, "field '" + f + "' must be a list of one-name objects, e.g. "
                    + "[{\"mtu\": \"9000\"}], not " + describe(value));
        }
        LinkedHashMap<String, String> attrs = new LinkedHashMap<>();
        for (int i = 0; i < value.size(); i++) {
            JsonNode item = value.get(i);
            String at = f + "[" + i + "]";
            if (!item.isObject() || item.size() != 1) {
                throw new JsonFieldException(at, "'" + at + "' must be an object with exactly one name, e.g. "
                        + "{\"mtu\": \"9000\"}");
            }
            Map.Entry<String, JsonNode> entry = item.properties().iterator().next();
            JsonNode v = entry.getValue();
            String text;
            if (v.isTextual()) {
                text = v.textValue();
            } else if (v.isIntegralNumber() || v.isBoolean()) {
                text = v.asText();
            } else {
                throw new JsonFieldException(f + "." + entry.getKey(), "attribute '" + entry.getKey() + "' in '" + at
                        + "' must be a string (or an integer or boolean), not " + describe(v));
            }
            if (attrs.putIfAbsent(entry.getKey(), text) != null) {
                throw new JsonFieldException(f + "." + entry.getKey(), "attribute '" + entry.getKey()
                        + "' is given twice in '" + f + "'");
            }
        }
        return Optional.of(Collections.unmodifiableSequencedMap(attrs));
    }

    /** The elements of an array field. */
    public Optional<List<JsonNode>> array(String name) throws JsonFieldException {
        JsonNode value = take(name);
        if (value == null) {
            return Optional.empty();
        }
        if (!value.isArray()) {
            throw wrongType(name, "an array", value);
        }
        List<JsonNode> list = new ArrayList<>();
        value.elements().forEachRemaining(list::add);
        return Optional.of(list);
    }

    /** Refuses every field that was not read: a typo must not be silently ignored. */
    public void finish() throws JsonFieldException {
        for (Iterator<String> names = node.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!read.contains(name)) {
                List<String> known = new ArrayList<>(read);
                Collections.sort(known);
                throw new JsonFieldException(field(name), "unexpected field '" + field(name) + "'"
                        + (known.isEmpty() ? "" : "; accepted here: " + String.join(", ", known)));
            }
        }
    }
}

package io.umdev.daemon.definition;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.umdev.daemon.json.Json;
import io.umdev.daemon.json.JsonFieldException;
import io.umdev.daemon.json.JsonFields;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Objects;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.UUID;

/**
 * A persistent instance definition, like mdevctl's: which parent and type, which UUID, the attributes
 * in order, whether it starts with the daemon, and an optional driver override. Stored as
 * {@code <state-dir>/definitions/<uuid>.json}:
 *
 * <pre>{@code
 * {
 *   "uuid" : "0b4f5c2e-3d8a-4f1e-9a6b-1c2d3e4f5a6b",
 *   "parent" : "sim-net",
 *   "type" : "net",
 *   "start" : "auto",
 *   "attrs" : [ { "mac" : "52:54:00:12:34:56" }, { "mtu" : "9000" } ],
 *   "driver" : "vhost-mdev"
 * }
 * }</pre>
 *
 * {@code driver} is optional; every other field is required. Attribute values are kept as the user wrote
 * them; the parent's type validates them.
 */
public record Definition(UUID uuid, String parent, String type, StartPolicy start, SequencedMap<String, String> attrs,
        Optional<String> driver) {
    public Definition {
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(parent, "parent");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(start, "start");
        attrs = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(attrs));
        Objects.requireNonNull(driver, "driver");
    }

    public Definition withAttrs(SequencedMap<String, String> newAttrs) {
        return new Definition(uuid, parent, type, start, newAttrs, driver);
    }

    public Definition withStart(StartPolicy newStart) {
        return new Definition(uuid, parent, type, newStart, attrs, driver);
    }

    public Definition withDriver(Optional<String> newDriver) {
        return new Definition(uuid, parent, type, start, attrs, newDriver);
    }

    /** The stored form. */
    public ObjectNode toJson() {
        ObjectNode node = Json.object();
        node.put("uuid", uuid.toString());
        node.put("parent", parent);
        node.put("type", type);
        node.put("start", start.label());
        node.set("attrs", Json.attrs(attrs));
        driver.ifPresent(d -> node.put("driver", d));
        return node;
    }

    /**
     * Reads the stored form strictly: unknown fields, missing fields and wrong types are errors naming
     * the field.
     */
    public static Definition fromJson(JsonNode node) throws JsonFieldException {
        JsonFields fields = JsonFields.of(node, "a definition");
        UUID uuid = fields.requireUuid("uuid");
        String parent = fields.requireString("parent");
        String type = fields.requireString("type");
        String startText = fields.requireString("start");
        StartPolicy start = StartPolicy.parseOrNull(startText);
        if (start == null) {
            throw new JsonFieldException("start", "field 'start' must be \"auto\" or \"manual\", not \"" + startText + "\"");
        }
        SequencedMap<String, String> attrs = fields.attrs("attrs").orElseThrow(
                () -> new JsonFieldException("attrs", "field 'attrs' is missing (use [] for none)"));
        Optional<String> driver = fields.string("driver");
        fields.finish();
        return new Definition(uuid, parent, type, start, attrs, driver);
    }
}

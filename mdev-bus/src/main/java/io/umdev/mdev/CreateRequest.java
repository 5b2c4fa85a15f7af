package io.umdev.mdev;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Objects;
import java.util.SequencedMap;
import java.util.UUID;

/**
 * What to create: parent, type, optionally a UUID (one is generated if not), attributes in the order
 * given, and optionally a driver override. Immutable; build with {@link #of} and the {@code with*}
 * methods.
 *
 * @param uuid the instance's UUID, or null to have one generated
 * @param parent the parent's name
 * @param type the type's name within the parent
 * @param attributes name to value as the user wrote them, in order
 * @param driverOverride the only driver that may bind the instance, or null for matching by device API
 */
public record CreateRequest(UUID uuid, String parent, String type, SequencedMap<String, String> attributes,
        String driverOverride) {
    public CreateRequest {
        Objects.requireNonNull(parent, "parent");
        Objects.requireNonNull(type, "type");
        attributes = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(attributes));
    }

    public static CreateRequest of(String parent, String type) {
        return new CreateRequest(null, parent, type, new LinkedHashMap<>(), null);
    }

    public CreateRequest withUuid(UUID newUuid) {
        return new CreateRequest(newUuid, parent, type, attributes, driverOverride);
    }

    /** Adds (or replaces, keeping its place) one attribute. */
    public CreateRequest withAttribute(String name, String value) {
        LinkedHashMap<String, String> copy = new LinkedHashMap<>(attributes);
        copy.put(name, value);
        return new CreateRequest(uuid, parent, type, copy, driverOverride);
    }

    public CreateRequest withAttributes(SequencedMap<String, String> newAttributes) {
        return new CreateRequest(uuid, parent, type, newAttributes, driverOverride);
    }

    public CreateRequest withDriverOverride(String driver) {
        return new CreateRequest(uuid, parent, type, attributes, driver);
    }
}

package io.umdev.mdev;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.regex.Pattern;

/**
 * A kind of instance a parent can create, after the kernel's {@code mdev_supported_types/<type>}
 * directory: a name unique within its parent, a description, the device API its instances expose, how
 * many instances it can hold, and the attributes it accepts.
 *
 * @param name unique within the parent: letters, digits, '_', '-', '.', ':'
 * @param description one line for listings
 * @param deviceApi what a driver must speak to bind its instances
 * @param maxInstances how many instances may exist at once ({@link #UNLIMITED} for no limit); the bus
 *     reports {@code maxInstances - current} as the available instances and refuses creation at zero
 * @param attributes the attributes accepted at create time, in display order
 */
public record MdevType(String name, String description, DeviceApi deviceApi, int maxInstances,
        List<AttributeSpec> attributes) {
    public static final int UNLIMITED = Integer.MAX_VALUE;

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}");

    public MdevType {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(deviceApi, "deviceApi");
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("a type name is 1-64 letters, digits, '_', '-', '.' or ':': '" + name + "'");
        }
        if (maxInstances < 0) {
            throw new IllegalArgumentException("type " + name + ": maxInstances must not be negative");
        }
        attributes = List.copyOf(attributes);
        HashSet<String> names = new HashSet<>();
        for (AttributeSpec spec : attributes) {
            if (!names.add(spec.name())) {
                throw new IllegalArgumentException("type " + name + " declares attribute " + spec.name() + " twice");
            }
        }
    }

    /** A type without attributes. */
    public static MdevType of(String name, String description, DeviceApi deviceApi, int maxInstances) {
        return new MdevType(name, description, deviceApi, maxInstances, List.of());
    }

    public Optional<AttributeSpec> attribute(String attributeName) {
        return attributes.stream().filter(a -> a.name().equals(attributeName)).findFirst();
    }

    /** Validates attributes given by a user (name to value, in order) against this type. */
    public Attributes parseAttributes(SequencedMap<String, String> given) throws MdevException {
        return Attributes.parse(name, attributes, given);
    }
}

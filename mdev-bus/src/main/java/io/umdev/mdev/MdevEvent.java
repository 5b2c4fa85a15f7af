package io.umdev.mdev;

import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * Something that happened to an instance, like the kernel's mdev uevents. Delivered to
 * {@link MdevListener}s in the order the changes happened.
 */
public final class MdevEvent {
    /** What happened. */
    public enum Kind {
        /** The instance was created (and is on the bus, bound or not). */
        ADDED,
        /** A driver bound the instance. */
        BOUND,
        /** The instance's driver let go of it. */
        UNBOUND,
        /** The instance was removed. */
        REMOVED,
        /** A create, bind or update failed; nothing was changed by it. */
        FAILED;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final Kind kind;
    private final UUID uuid;
    private final String parent;
    private final String type;
    private final String driver;
    private final String detail;

    /**
     * @param driver the driver concerned (BOUND, UNBOUND, a failed probe), or null
     * @param detail what went wrong (FAILED), or null
     */
    public MdevEvent(Kind kind, UUID uuid, String parent, String type, String driver, String detail) {
        this.kind = Objects.requireNonNull(kind, "kind");
        this.uuid = Objects.requireNonNull(uuid, "uuid");
        this.parent = Objects.requireNonNull(parent, "parent");
        this.type = Objects.requireNonNull(type, "type");
        this.driver = driver;
        this.detail = detail;
    }

    public Kind kind() {
        return kind;
    }

    public UUID uuid() {
        return uuid;
    }

    public String parent() {
        return parent;
    }

    public String type() {
        return type;
    }

    public Optional<String> driver() {
        return Optional.ofNullable(driver);
    }

    public Optional<String> detail() {
        return Optional.ofNullable(detail);
    }

    /** {@code bound 0b4f... (sim-net/net) to virtio-mdev}, {@code failed ...: why}. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(kind.label()).append(' ').append(uuid)
                .append(" (").append(parent).append('/').append(type).append(')');
        if (driver != null) {
            s.append(kind == Kind.UNBOUND ? " from " : kind == Kind.BOUND ? " to " : " driver ").append(driver);
        }
        if (detail != null) {
            s.append(": ").append(detail);
        }
        return s.toString();
    }
}

package io.umdev.mdev;

/** Where an instance is in its life on the bus. */
public enum InstanceState {
    /** Created, no driver bound (no driver matched, the override names an absent driver, or unbound). */
    UNBOUND,
    /** Created and bound to a driver. */
    BOUND,
    /** Removed from the bus; the object is stale. */
    REMOVED;

    /** The lower-case name used in listings and JSON. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}

package io.umdev.mdev;

import java.util.Map;
import java.util.Optional;

/**
 * The device a parent creates for an instance. The bus knows it only by its device API; a driver for
 * that API asks it for the interface it needs ({@link #unwrap}): the virtio transport API, a vfio-user
 * device, or whatever a third-party API defines. So the bus never depends on those types.
 */
public interface MdevDevice {
    /** Must be the device API of the instance's type. */
    DeviceApi deviceApi();

    /**
     * This device as {@code api}, if it offers that interface. The default answers for the object
     * itself; a device that delegates overrides it.
     */
    default <T> Optional<T> unwrap(Class<T> api) {
        return api.isInstance(this) ? Optional.of(api.cast(this)) : Optional.empty();
    }

    /**
     * Counters for {@code umdevctl stats}, like {@code vdpa dev vstats}: name to value, in display order.
     * Called from management threads; must not block on the data path.
     */
    default Map<String, Long> statistics() {
        return Map.of();
    }
}

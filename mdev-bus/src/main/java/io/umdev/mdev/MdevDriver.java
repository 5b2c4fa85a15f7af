package io.umdev.mdev;

import java.util.Map;
import java.util.Set;

/**
 * A driver of the bus: binds instances whose device API it speaks and makes them useful (serves them
 * over vfio-user, presents them as virtio devices, as vhost-user backends...). After the kernel's
 * {@code mdev_driver} / {@code vdpa_driver}. The bus calls a driver under its management lock, one call
 * at a time.
 */
public interface MdevDriver {
    /** Unique on the bus; what a driver override names. Letters, digits, '_', '-', '.'. */
    String name();

    /** The device APIs this driver can bind. */
    Set<DeviceApi> deviceApis();

    /**
     * Takes the instance: get the device interface with {@code instance.device().unwrap(...)}, set up
     * what the driver needs, and return. On return the instance is bound.
     *
     * @throws MdevException ENODEV ({@link MdevException#decline}) to decline, letting the bus try the
     *     next matching driver; anything else is a failure: a create is rolled back, a bind is refused,
     *     and a {@code failed} event is emitted
     */
    void probe(MdevInstance instance) throws MdevException;

    /** Lets go of a bound instance: stop serving it and release what probe set up. Cannot refuse. */
    void remove(MdevInstance instance);

    /**
     * How a client reaches a bound instance, for {@code umdevctl show}: label to text (a socket path, a QEMU
     * command line...), in display order. Empty when there is nothing to say. Must not block.
     */
    default Map<String, String> endpoint(MdevInstance instance) {
        return Map.of();
    }
}

package io.umdev.mdev;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The programming interface an instance exposes, after the kernel's mdev {@code device_api} attribute
 * and the old virtio-mdev class IDs: what a driver must speak to bind it. Open-ended, so that a
 * third-party parent and driver can agree on an API this module has never heard of.
 *
 * @param name lower-case letters, digits and dashes, such as {@code vfio-pci}
 */
public record DeviceApi(String name) {
    // Before the constants below: their construction uses it.
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,31}");

    /** A ready emulated PCI device, served as is (the kernel's {@code vfio-pci} device_api). */
    public static final DeviceApi VFIO_PCI = new DeviceApi("vfio-pci");
    /** The virtio transport API (the vDPA ops); bound by virtio-mdev or vhost-mdev. */
    public static final DeviceApi VIRTIO = new DeviceApi("virtio");

    public DeviceApi {
        Objects.requireNonNull(name, "name");
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("a device API name is 1-32 lower-case letters, digits or dashes: '"
                    + name + "'");
        }
    }

    public static DeviceApi of(String name) {
        return new DeviceApi(name);
    }

    @Override
    public String toString() {
        return name;
    }
}

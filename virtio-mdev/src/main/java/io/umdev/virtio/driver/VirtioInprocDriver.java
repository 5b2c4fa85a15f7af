package io.umdev.virtio.driver;

import io.umdev.linux.Errno;
import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.MdevDriver;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevInstance;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.transport.VirtioDevice;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The in-process driver on the bus ({@value #NAME}): binds a {@code virtio} instance only when the
 * instance's driver override names it, so that by default the vfio-user driver keeps the instance.
 * A bound net instance becomes a {@link VirtioNetPort}, a block instance a {@link VirtioBlockDisk},
 * reachable by UUID through {@link #netPort} and {@link #blockDisk}; other device classes are declined.
 * Removing the binding closes the port or disk (which resets the device and unmaps the driver's memory).
 *
 * <p>Without the bus, open a port or disk directly on a device: {@link #open(MdevInstance)} or
 * {@code VirtioNetPort.open(VirtioDevice)}.
 */
public final class VirtioInprocDriver implements MdevDriver {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioInprocDriver.class);

    /** The name an instance's driver override gives to bind it here. */
    public static final String NAME = "virtio-inproc";

    private final DriverOptions options;
    private final Map<UUID, AutoCloseable> bound = new ConcurrentHashMap<>();

    public VirtioInprocDriver() {
        this(DriverOptions.defaults());
    }

    /** A driver opening every device it binds with {@code options}. */
    public VirtioInprocDriver(DriverOptions options) {
        this.options = Objects.requireNonNull(options, "options");
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<DeviceApi> deviceApis() {
        return Set.of(DeviceApi.VIRTIO);
    }

    @Override
    public void probe(MdevInstance instance) throws MdevException {
        if (!NAME.equals(instance.driverOverride().orElse(null))) {
            throw MdevException.decline("the in-process driver binds only instances whose driver override names it");
        }
        AutoCloseable device;
        try {
            device = open(instance, options);
        } catch (VirtioDriverException e) {
            if (e.errno() == Errno.ENODEV) {
                throw MdevException.decline(e.getMessage());
            }
            throw new MdevException(e.errno(), null, "opening " + instance.uuid() + ": " + e.getMessage(), e);
        }
        bound.put(instance.uuid(), device);
        LOG.info("{}: bound to the in-process driver as a {}", instance.uuid(),
                device instanceof VirtioNetPort ? "network port" : "block disk");
    }

    @Override
    public void remove(MdevInstance instance) {
        AutoCloseable device = bound.remove(instance.uuid());
        if (device != null) {
            try {
                device.close();
            } catch (Exception e) {
                LOG.warn("{}: closing the in-process driver: {}", instance.uuid(), e.toString());
            }
        }
    }

    /** The port of a bound net instance. */
    public Optional<VirtioNetPort> netPort(UUID uuid) {
        return bound.get(uuid) instanceof VirtioNetPort port ? Optional.of(port) : Optional.empty();
    }

    /** The disk of a bound block instance. */
    public Optional<VirtioBlockDisk> blockDisk(UUID uuid) {
        return bound.get(uuid) instanceof VirtioBlockDisk disk ? Optional.of(disk) : Optional.empty();
    }

    /**
     * Opens an instance without binding it on the bus (tests, tools): a {@link VirtioNetPort} or a
     * {@link VirtioBlockDisk}, by its device ID. The caller closes it.
     *
     * @throws VirtioDriverException ENODEV if the instance offers no virtio device or is of another class
     */
    public static AutoCloseable open(MdevInstance instance, DriverOptions options) throws VirtioDriverException {
        VirtioDevice device = instance.device().unwrap(VirtioDevice.class).orElseThrow(
                () -> new VirtioDriverException(Errno.ENODEV, instance.uuid() + " offers no virtio transport"));
        return switch (device.deviceId()) {
            case VirtioId.NET -> VirtioNetPort.open(device, options);
            case VirtioId.BLOCK -> VirtioBlockDisk.open(device, options);
            default -> throw new VirtioDriverException(Errno.ENODEV, "virtio device class " + device.deviceId()
                    + " has no in-process driver");
        };
    }

    /** {@link #open(MdevInstance, DriverOptions)} with the default options. */
    public static AutoCloseable open(MdevInstance instance) throws VirtioDriverException {
        return open(instance, DriverOptions.defaults());
    }
}

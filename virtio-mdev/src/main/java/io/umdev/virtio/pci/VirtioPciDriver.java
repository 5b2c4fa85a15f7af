package io.umdev.virtio.pci;

import io.umdev.emudev.vfiouser.VfioUserAdapter;
import io.umdev.linux.Errno;
import io.umdev.linux.LinuxException;
import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.MdevDriver;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevInstance;
import io.umdev.vfiouser.server.ServerOptions;
import io.umdev.vfiouser.server.VfioUserServer;
import io.umdev.virtio.transport.VirtioDevice;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bus driver ({@value #NAME}) that serves every {@code virtio} instance to vfio-user clients as a
 * virtio-pci function: the default driver of virtio instances (an instance whose driver override names
 * another driver, such as {@code virtio-inproc}, is never offered to it). Each bound instance gets a
 * {@link VirtioPciFunction} and a vfio-user server on {@code <directory>/<name>.sock}, where the name is
 * what the naming function gives (the daemon gives the instance's label, else its UUID). Unbinding
 * stops the server, removes the socket and resets the device.
 *
 * <p>The function's DMA table is the instance's: the parent's address space 0 must be
 * {@link MdevInstance#dmaTable()}, so the memory the client maps is exactly what the parent's queues
 * read; a device with another table is refused.
 */
public final class VirtioPciDriver implements MdevDriver {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioPciDriver.class);

    /** The driver's name on the bus. */
    public static final String NAME = "virtio-pci";
    /** Socket files are {@code <name>.sock}. */
    public static final String SOCKET_SUFFIX = ".sock";
    private static final Pattern SOCKET_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

    /** One served instance. */
    private record Served(VirtioPciFunction function, VfioUserServer server) {
    }

    private final Path directory;
    private final Function<MdevInstance, String> naming;
    private final ServerOptions options;
    private final Map<UUID, Served> served = new ConcurrentHashMap<>();

    /**
     * @param directory where the sockets go (must exist)
     * @param naming the socket's base name for an instance (letters, digits, '_', '.', '-'); null answers
     *     fall back to the UUID
     */
    public VirtioPciDriver(Path directory, Function<MdevInstance, String> naming, ServerOptions options) {
        this.directory = Objects.requireNonNull(directory, "directory");
        this.naming = Objects.requireNonNull(naming, "naming");
        this.options = Objects.requireNonNull(options, "options");
    }

    /** A driver naming sockets by UUID. */
    public VirtioPciDriver(Path directory) {
        this(directory, i -> null, ServerOptions.defaults());
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<DeviceApi> deviceApis() {
        return Set.of(DeviceApi.VIRTIO);
    }

    /** Where instance {@code uuid} is served, if this driver binds it. */
    public Optional<Path> socketPath(UUID uuid) {
        Served s = served.get(uuid);
        return s == null ? Optional.empty() : Optional.of(s.server().socketPath());
    }

    /** The function serving instance {@code uuid}, if this driver binds it. */
    public Optional<VirtioPciFunction> function(UUID uuid) {
        Served s = served.get(uuid);
        return s == null ? Optional.empty() : Optional.of(s.function());
    }

    /** Guest RAM in the QEMU command line {@link #qemuCommandLine} prints. */
    public static final String QEMU_MEMORY = "1G";

    /**
     * A ready QEMU command line attaching a guest to {@code socket}: guest RAM in a shared memfd (the
     * server maps guest memory from the descriptors QEMU passes) and the vfio-user-pci device; add the
     * guest's own disk or kernel.
     */
    public static String qemuCommandLine(Path socket) {
        return "qemu-system-x86_64 -machine q35,accel=kvm:tcg,memory-backend=mem -m " + QEMU_MEMORY
                + " -object memory-backend-memfd,id=mem,size=" + QEMU_MEMORY + ",share=on -nographic"
                + " -device '{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":\"" + socket
                + "\",\"type\":\"unix\"}}'";
    }

    private String socketName(MdevInstance instance) {
        String wanted = naming.apply(instance);
        if (wanted != null && SOCKET_NAME.matcher(wanted).matches()) {
            return wanted;
        }
        if (wanted != null) {
            LOG.warn("{}: '{}' cannot name a socket; using the UUID", instance.uuid(), wanted);
        }
        return instance.uuid().toString();
    }

    @Override
    public void probe(MdevInstance instance) throws MdevException {
        VirtioDevice device = instance.device().unwrap(VirtioDevice.class)
                .orElseThrow(() -> MdevException.decline("the device does not offer the virtio transport API"));
        if (device.addressSpace(0) != instance.dmaTable()) {
            throw new MdevException(Errno.EINVAL, null, "instance " + instance.uuid()
                    + ": the device's address space 0 is not the instance's DMA table, so a client's memory would "
                    + "not reach it");
        }
        Path socket = directory.resolve(socketName(instance) + SOCKET_SUFFIX);
        VirtioPciFunction function;
        try {
            function = new VirtioPciFunction(NAME + "/" + instance.uuid(), device);
        } catch (LinuxException | IllegalArgumentException e) {
            throw new MdevException(Errno.EINVAL, null, "instance " + instance.uuid() + ": " + e.getMessage(), e);
        }
        VfioUserServer server;
        try {
            function.emuDevice().configure();
            server = VfioUserServer.start(socket, new VfioUserAdapter(function.emuDevice()), options);
        } catch (IOException | RuntimeException e) {
            function.close();
            throw new MdevException(Errno.EIO, null, "instance " + instance.uuid() + ": cannot serve on " + socket
                    + ": " + e.getMessage(), e);
        }
        served.put(instance.uuid(), new Served(function, server));
        LOG.info("{}: virtio-pci over vfio-user on {}", instance.uuid(), socket);
    }

    @Override
    public void remove(MdevInstance instance) {
        Served s = served.remove(instance.uuid());
        if (s == null) {
            return;
        }
        try {
            s.server().close();
        } finally {
            s.function().close();
        }
        LOG.info("{}: no longer served on {}", instance.uuid(), s.server().socketPath());
    }
}

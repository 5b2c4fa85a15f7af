package io.umdev.it;

import com.github.dockerjava.api.model.AccessMode;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Device;
import com.github.dockerjava.api.model.Volume;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * One QEMU guest to boot: a q35 machine with memfd-backed shared RAM (what vfio-user and vhost-user need),
 * the provisioned kernel and initramfs, the workloads the guest runs, and its devices. Configure it, then
 * {@link #run()} (or {@link #start()} to run several at once).
 *
 * <pre>{@code
 * GuestRun run = peer.guest("blk")
 *         .workloads(Workload.PCI, Workload.BLK)
 *         .vfioUserDevice(socket)
 *         .run();
 * }</pre>
 */
public final class QemuGuest {

    public static final int DEFAULT_MEMORY_MIB = 512;
    public static final int DEFAULT_CPUS = 2;
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(2);

    private static final Logger LOG = LoggerFactory.getLogger(QemuGuest.class);
    private static final String QEMU = "qemu-system-x86_64";
    private static final String GUEST_PARAM_PREFIX = "umdev.";
    private static final List<String> BASE_KERNEL_ARGS = List.of("console=ttyS0", "panic=-1");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*");
    private static final int CONTAINER_SUFFIX_LENGTH = 8;
    /** How often a stream-netdev client retries while its server peer is not listening yet. */
    private static final Duration NET_RECONNECT = Duration.ofMillis(100);
    /** How soon QEMU reconnects to a vhost-user backend that dropped the connection. */
    private static final Duration VHOST_RECONNECT = Duration.ofSeconds(1);

    private final QemuPeer peer;
    private final String name;
    private int memoryMib = DEFAULT_MEMORY_MIB;
    private int cpus = DEFAULT_CPUS;
    private Accel accel = Accel.detect();
    private Duration timeout = DEFAULT_TIMEOUT;
    private final List<Workload> workloads = new ArrayList<>(List.of(Workload.PCI));
    private final Map<String, String> guestParams = new LinkedHashMap<>();
    private final List<String> kernelArgs = new ArrayList<>();
    private final List<String> deviceArgs = new ArrayList<>();
    private final Set<Path> writableBinds = new LinkedHashSet<>();
    private int nextDeviceId;
    private boolean reboots;

    QemuGuest(QemuPeer peer, String name) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("guest name '" + name + "' must match " + NAME.pattern());
        }
        this.peer = peer;
        this.name = name;
    }

    public QemuGuest memoryMib(int mib) {
        this.memoryMib = mib;
        return this;
    }

    public QemuGuest cpus(int count) {
        this.cpus = count;
        return this;
    }

    /** Overrides the detected accelerator. */
    public QemuGuest accel(Accel accelerator) {
        this.accel = accelerator;
        return this;
    }

    /** How long the guest may take from container start to its end marker (default {@link #DEFAULT_TIMEOUT}). */
    public QemuGuest timeout(Duration limit) {
        this.timeout = limit;
        return this;
    }

    /** The workloads /init runs, in this order (default: PCI). */
    public QemuGuest workloads(Workload... chosen) {
        workloads.clear();
        workloads.addAll(Arrays.asList(chosen));
        return this;
    }

    /** A workload parameter: {@code umdev.<name>=<value>} on the kernel command line (see the guest's /init). */
    public QemuGuest guestParam(String paramName, Object value) {
        guestParams.put(paramName, String.valueOf(value));
        return this;
    }

    /**
     * Lets the guest reboot: QEMU resets the machine (and every device) instead of exiting, for the reboot
     * workload. A guest that panics then boots again until the timeout.
     */
    public QemuGuest allowReboot() {
        this.reboots = true;
        return this;
    }

    /** Raw kernel command-line arguments, appended last. */
    public QemuGuest kernelArgs(String... args) {
        kernelArgs.addAll(Arrays.asList(args));
        return this;
    }

    /** A vfio-user-pci device served at this host socket path. */
    public QemuGuest vfioUserDevice(Path socket) {
        return vfioUserDevice(VfioUserDevice.at(socket));
    }

    public QemuGuest vfioUserDevice(VfioUserDevice device) {
        bind(device.socket().getParent());
        return device("-device", device.deviceJson(nextId("vfio")));
    }

    /**
     * QEMU's own virtio-blk-pci (modern only, like umdev's devices) over a raw image file on the host, with
     * QEMU's default host page cache and a write-back cache the guest flushes. The native baseline.
     */
    public QemuGuest virtioBlkDisk(Path image, String serial) {
        Path file = image.toAbsolutePath();
        bind(file.getParent());
        String node = nextId("disk");
        return device(
                "-blockdev", "{\"driver\":\"raw\",\"node-name\":%s,\"file\":{\"driver\":\"file\",\"filename\":%s}}"
                        .formatted(Json.quote(node), Json.quote(file.toString())),
                "-device", "{\"driver\":\"virtio-blk-pci\",\"drive\":%s,\"serial\":%s,\"disable-legacy\":\"on\",\"write-cache\":\"on\"}"
                        .formatted(Json.quote(node), Json.quote(serial)));
    }

    /**
     * QEMU's own virtio-net-pci joined to another guest by QEMU's stream netdev over a Unix socket on the host:
     * Ethernet frames travel between the two QEMUs, no IP traffic touches the host. One side listens.
     */
    public QemuGuest virtioNetOverUnixSocket(Path socket, boolean listen, String mac) {
        Path path = socket.toAbsolutePath();
        bind(path.getParent());
        String netdev = nextId("net");
        String reconnect = listen ? "" : ",\"reconnect-ms\":" + NET_RECONNECT.toMillis();
        return device(
                "-netdev", "{\"type\":\"stream\",\"id\":%s,\"server\":%s,\"addr\":{\"type\":\"unix\",\"path\":%s}%s}"
                        .formatted(Json.quote(netdev), listen, Json.quote(path.toString()), reconnect),
                "-device", "{\"driver\":\"virtio-net-pci\",\"netdev\":%s,\"mac\":%s,\"romfile\":\"\",\"disable-legacy\":\"on\"}"
                        .formatted(Json.quote(netdev), Json.quote(mac)));
    }

    /**
     * QEMU's vhost-user-blk-pci on a vhost-user backend listening at this host socket (QEMU connects, and
     * reconnects after a drop). The virtio-blk config, serial included, comes from the backend.
     */
    public QemuGuest vhostUserBlk(Path socket, int queues) {
        return vhostUserBlk(socket, queues, false);
    }

    /** {@link #vhostUserBlk(Path, int)}, with {@code packed} asking QEMU to offer packed virtqueues. */
    public QemuGuest vhostUserBlk(Path socket, int queues, boolean packed) {
        Path path = socket.toAbsolutePath();
        bind(path.getParent());
        String chardev = nextId("vub");
        return device(
                "-chardev", "socket,id=%s,path=%s,reconnect-ms=%d".formatted(chardev, path, VHOST_RECONNECT.toMillis()),
                "-device", "{\"driver\":\"vhost-user-blk-pci\",\"chardev\":%s,\"num-queues\":%d,\"packed\":%b,\"disable-legacy\":\"on\"}"
                        .formatted(Json.quote(chardev), queues, packed));
    }

    /** virtio-net-pci on QEMU's vhost-user netdev, its backend listening at this host socket. */
    public QemuGuest vhostUserNet(Path socket, String mac) {
        Path path = socket.toAbsolutePath();
        bind(path.getParent());
        String chardev = nextId("vun");
        String netdev = nextId("net");
        return device(
                "-chardev", "socket,id=%s,path=%s,reconnect-ms=%d".formatted(chardev, path, VHOST_RECONNECT.toMillis()),
                "-netdev", "{\"type\":\"vhost-user\",\"id\":%s,\"chardev\":%s}".formatted(Json.quote(netdev),
                        Json.quote(chardev)),
                "-device", "{\"driver\":\"virtio-net-pci\",\"netdev\":%s,\"mac\":%s,\"romfile\":\"\",\"disable-legacy\":\"on\"}"
                        .formatted(Json.quote(netdev), Json.quote(mac)));
    }

    /** Any further QEMU arguments, e.g. {@code "-device", "..."} or a vhost-user {@code -chardev}. */
    public QemuGuest device(String... qemuArgs) {
        deviceArgs.addAll(Arrays.asList(qemuArgs));
        return this;
    }

    /** Makes a host directory visible to QEMU at the same path (read-write), e.g. for sockets or images. */
    public QemuGuest bind(Path hostDirectory) {
        writableBinds.add(hostDirectory.toAbsolutePath());
        return this;
    }

    /** The full QEMU command line this guest runs with. */
    public List<String> commandLine() {
        return spec().commandLine();
    }

    /** Boots the guest in a new container and returns at once. */
    public RunningGuest start() {
        GuestSpec spec = spec();
        GuestConsole console = new GuestConsole(name);
        String containerName = "umdev-it-" + name + "-" + UUID.randomUUID().toString().substring(0, CONTAINER_SUFFIX_LENGTH);
        List<Bind> binds = Stream.concat(
                        spec.readOnlyBinds().stream().map(path -> new Bind(path.toString(), new Volume(path.toString()), AccessMode.ro)),
                        spec.writableBinds().stream().map(path -> new Bind(path.toString(), new Volume(path.toString()), AccessMode.rw)))
                .toList();
        GenericContainer<?> container = new GenericContainer<>(DockerImageName.parse(spec.image()))
                .withImagePullPolicy(NeverPull.INSTANCE)
                .withNetworkMode("none")
                .withCommand(spec.commandLine().toArray(String[]::new))
                .withStartupCheckStrategy(new StartedIsEnough())
                .withLogConsumer(console)
                .withCreateContainerCmdModifier(command -> {
                    command.withName(containerName);
                    command.getHostConfig().withBinds(binds);
                    if (spec.accel() == Accel.KVM) {
                        String kvm = Accel.KVM_DEVICE.toString();
                        command.getHostConfig().withDevices(new Device("rwm", kvm, kvm));
                    }
                });
        LOG.info("[{}] starting QEMU ({}, {} MiB, {} CPUs) in {}", name, spec.accel(), memoryMib, cpus, containerName);
        Instant started = Instant.now();
        try {
            container.start();
        } catch (RuntimeException e) {
            container.stop();
            throw e;
        }
        return new RunningGuest(spec, container, console, started);
    }

    /** Boots the guest, waits for it to finish and returns the run; throws when it did not complete. */
    public GuestRun run() {
        try (RunningGuest guest = start()) {
            return guest.await().requireCompleted();
        }
    }

    GuestSpec spec() {
        Provisioning provisioning = peer.provisioning();
        List<String> kernelCommandLine = new ArrayList<>(BASE_KERNEL_ARGS);
        kernelCommandLine.add(GUEST_PARAM_PREFIX + "workload=" + workloads.stream().map(Workload::tag).collect(Collectors.joining(",")));
        guestParams.forEach((param, value) -> kernelCommandLine.add(GUEST_PARAM_PREFIX + param + "=" + value));
        kernelCommandLine.addAll(kernelArgs);

        List<String> command = new ArrayList<>(List.of(QEMU, "-name", name));
        command.addAll(accel.qemuArgs());
        command.addAll(List.of(
                "-smp", Integer.toString(cpus),
                "-m", memoryMib + "M",
                // Guest RAM in a shared memfd: vfio-user servers and vhost-user backends map it through its fd.
                "-object", "memory-backend-memfd,id=mem,size=" + memoryMib + "M,share=on",
                "-machine", "q35,memory-backend=mem",
                "-nodefaults", "-nographic", "-serial", "stdio"));
        if (!reboots) {
            command.add("-no-reboot");
        }
        command.addAll(List.of(
                "-kernel", provisioning.guestKernel().toString(),
                "-initrd", provisioning.guestInitrd().toString(),
                "-append", String.join(" ", kernelCommandLine)));
        command.addAll(deviceArgs);

        Set<Path> readOnly = new LinkedHashSet<>(List.of(provisioning.guestKernel().getParent(), provisioning.guestInitrd().getParent()));
        readOnly.removeAll(writableBinds); // one mount per path: writable wins
        return new GuestSpec(name, provisioning.image(), accel, timeout, command, writableBinds, readOnly, peer.logDirectory().resolve(name));
    }

    private String nextId(String prefix) {
        return prefix + nextDeviceId++;
    }
}

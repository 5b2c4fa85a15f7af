package io.umdev.vhost;

import io.umdev.linux.Errno;
import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.MdevDriver;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevInstance;
import io.umdev.virtio.spec.NetSpec;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.transport.VirtioDevice;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The vhost-mdev driver on the bus ({@value #NAME}): binds a {@code virtio} instance whose driver override
 * names it and serves it as a vhost-user backend at {@code <run-dir>/<uuid>.vhost.sock}. Every other virtio
 * instance is declined, so the default (vfio-user) driver keeps it. Unbinding closes the socket; the
 * session's cleanup resets the device.
 */
public final class VhostMdevDriver implements MdevDriver {
    private static final Logger LOG = LoggerFactory.getLogger(VhostMdevDriver.class);

    /** The name an instance's driver override gives to bind it here. */
    public static final String NAME = "vhost";
    /** The socket file's name after the instance UUID. */
    public static final String SOCKET_SUFFIX = ".vhost.sock";
    private static final int MAC_BYTES = 6;

    private final Path runDir;
    private final Map<UUID, VhostUserServer> servers = new ConcurrentHashMap<>();

    /** @param runDir where the sockets are made (the daemon's run directory) */
    public VhostMdevDriver(Path runDir) {
        this.runDir = Objects.requireNonNull(runDir, "runDir").toAbsolutePath();
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<DeviceApi> deviceApis() {
        return Set.of(DeviceApi.VIRTIO);
    }

    /** Where the socket of {@code uuid} is (or would be). */
    public Path socketPath(UUID uuid) {
        return runDir.resolve(uuid + SOCKET_SUFFIX);
    }

    @Override
    public void probe(MdevInstance instance) throws MdevException {
        if (!NAME.equals(instance.driverOverride().orElse(null))) {
            throw MdevException.decline("the vhost driver binds only instances whose driver override names it");
        }
        VirtioDevice device = instance.device().unwrap(VirtioDevice.class).orElseThrow(
                () -> MdevException.decline(instance.uuid() + " offers no virtio transport"));
        try {
            VhostUserServer server = VhostUserServer.start(device, socketPath(instance.uuid()), instance.uuid().toString());
            servers.put(instance.uuid(), server);
        } catch (IOException e) {
            throw new MdevException(Errno.EIO, null, "listening at " + socketPath(instance.uuid()) + ": " + e, e);
        }
    }

    @Override
    public void remove(MdevInstance instance) {
        VhostUserServer server = servers.remove(instance.uuid());
        if (server != null) {
            server.close();
            LOG.info("{}: vhost-user backend closed", instance.uuid());
        }
    }

    /** The server of a bound instance. */
    public Optional<VhostUserServer> server(UUID uuid) {
        return Optional.ofNullable(servers.get(uuid));
    }

    /**
     * How to reach a bound instance: its socket and the QEMU and DPDK testpmd command-line pieces that
     * attach to it (guest RAM must be shared: {@code memory-backend-memfd,share=on}).
     */
    @Override
    public Map<String, String> endpoint(MdevInstance instance) {
        VhostUserServer server = servers.get(instance.uuid());
        if (server == null) {
            return Map.of();
        }
        VirtioDevice device = instance.device().unwrap(VirtioDevice.class).orElseThrow();
        String socket = server.path().toString();
        String memory = "-object memory-backend-memfd,id=mem0,size=<guest RAM>,share=on -machine memory-backend=mem0";
        Map<String, String> m = new LinkedHashMap<>();
        m.put("vhost-user socket", socket);
        switch (device.deviceId()) {
            case VirtioId.BLOCK -> m.put("qemu", memory + " -chardev socket,id=vu0,path=" + socket
                    + ",reconnect-ms=1000 -device vhost-user-blk-pci,chardev=vu0,num-queues=" + device.queueCount());
            case VirtioId.NET -> {
                String mac = mac(device);
                m.put("qemu", memory + " -chardev socket,id=vu0,path=" + socket
                        + ",reconnect-ms=1000 -netdev vhost-user,id=net0,chardev=vu0 -device virtio-net-pci,netdev=net0,mac="
                        + mac);
                m.put("testpmd", "dpdk-testpmd --no-pci --no-huge -m 512 --vdev=net_virtio_user0,path=" + socket
                        + ",queues=1,mac=" + mac + " -- -i --total-num-mbufs=8192");
            }
            default -> m.put("qemu", memory + " -chardev socket,id=vu0,path=" + socket
                    + " -device vhost-user-device-pci,chardev=vu0");
        }
        return m;
    }

    /** The station address in a net device's config space. */
    static String mac(VirtioDevice device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment b = arena.allocate(MAC_BYTES);
            device.readConfig(NetSpec.CONFIG_MAC, b);
            StringBuilder s = new StringBuilder();
            for (int i = 0; i < MAC_BYTES; i++) {
                s.append(i == 0 ? "" : ":").append(String.format("%02x", b.get(ValueLayout.JAVA_BYTE, i)));
            }
            return s.toString();
        }
    }
}

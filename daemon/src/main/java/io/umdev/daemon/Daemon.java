package io.umdev.daemon;

import dagger.Lazy;
import io.umdev.daemon.control.ControlError;
import io.umdev.daemon.control.ControlProtocol;
import io.umdev.daemon.control.ControlServer;
import io.umdev.daemon.control.DeviceControl;
import io.umdev.daemon.definition.Definition;
import io.umdev.daemon.definition.DefinitionStore;
import io.umdev.daemon.definition.StartPolicy;
import io.umdev.mdev.CreateRequest;
import io.umdev.mdev.MdevBus;
import io.umdev.mdev.MdevDriver;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevType;
import io.umdev.mdev.ParentDevice;
import io.umdev.mdev.ParentPlugins;
import io.umdev.vfiouser.server.AccessPolicy;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running daemon: takes the state directory, loads the parents, starts the bus and the drivers,
 * brings back the auto-start definitions, creates the configured instances, then opens the control
 * socket. {@link #close()} undoes it in reverse: the socket goes, the instances are removed newest
 * first, the definitions stay.
 */
@Singleton
public final class Daemon implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);

    private final DaemonOptions options;
    private final DaemonConfiguration configuration;
    private final MdevBus bus;
    private final Lazy<ParentPlugins> plugins;
    private final Set<MdevDriver> drivers;
    private final DefinitionStore store;
    private final DeviceControl control;
    private final ControlProtocol protocol;
    private final EventLog events;

    private StateLock lock;
    private boolean pluginsLoaded;
    private ControlServer server;
    private boolean closed;

    @Inject
    public Daemon(DaemonOptions options, DaemonConfiguration configuration, MdevBus bus, Lazy<ParentPlugins> plugins,
            Set<MdevDriver> drivers, DefinitionStore store, DeviceControl control, ControlProtocol protocol,
            EventLog events) {
        this.options = options;
        this.configuration = configuration;
        this.bus = bus;
        this.plugins = plugins;
        this.drivers = drivers;
        this.store = store;
        this.control = control;
        this.protocol = protocol;
        this.events = events;
    }

    /**
     * Brings the daemon up. On failure what was started is left for {@link #close()}.
     *
     * @throws IOException if a directory, the state lock or the control socket cannot be had
     */
    public synchronized void start() throws IOException {
        UmdevPaths.ensurePrivateDirectory(options.stateDir());
        lock = StateLock.acquire(options.stateDir().resolve(UmdevPaths.LOCK));
        store.create();
        store.removeLeftovers();
        UmdevPaths.ensurePrivateDirectory(options.runDir());
        bus.subscribe(events);

        registerParents();
        registerDrivers();
        int restored = restoreDefinitions();
        int configured = createConfigured();

        server = ControlServer.start(options.controlSocket(), protocol, AccessPolicy.sameUserOrRoot());
        LOG.info("umdevd ready: {} instance(s) running ({} from definitions, {} from {}); control socket {}",
                bus.instanceCount(), restored, configured, configuration.source(), server.socketPath());
    }

    private void registerParents() {
        ParentPlugins found = plugins.get();
        pluginsLoaded = true;
        for (ParentDevice parent : found.parents()) {
            try {
                bus.addParent(parent);
                List<String> types = new ArrayList<>();
                for (MdevType type : bus.types(parent.name())) {
                    types.add(type.name() + " (" + type.deviceApi() + ", " + (type.maxInstances() == MdevType.UNLIMITED
                            ? "unlimited" : type.maxInstances() + " instances") + ")");
                }
                LOG.info("parent {}: {}", parent.name(), types.isEmpty() ? "no types" : String.join(", ", types));
            } catch (MdevException e) {
                LOG.warn("parent {} not registered: {}", parent.name(), e.getMessage());
            }
        }
        if (found.parents().isEmpty()) {
            LOG.info("no parents are installed; parent plugin jars go in {}",
                    options.pluginDirs().stream().map(Path::toString).collect(Collectors.joining(", ")));
        }
    }

    private void registerDrivers() {
        for (MdevDriver driver : drivers) {
            try {
                bus.addDriver(driver);
                LOG.info("driver {} binds {}", driver.name(), driver.deviceApis());
            } catch (MdevException e) {
                LOG.warn("driver {} not registered: {}", driver.name(), e.getMessage());
            }
        }
        if (drivers.isEmpty()) {
            LOG.info("no drivers are registered: instances are created unbound");
        }
    }

    private int restoreDefinitions() throws IOException {
        int started = 0;
        for (Definition definition : store.loadAll()) {
            if (definition.start() != StartPolicy.AUTO) {
                continue;
            }
            try {
                control.startDefinition(definition);
                started++;
            } catch (ControlError e) {
                LOG.warn("definition {} ({}/{}) not started: {}", definition.uuid(), definition.parent(),
                        definition.type(), e.getMessage());
            }
        }
        return started;
    }

    private int createConfigured() throws IOException {
        int created = 0;
        for (DaemonConfiguration.Entry entry : configuration.instances()) {
            if (store.find(entry.uuid()).isPresent() || bus.instance(entry.uuid()).isPresent()) {
                LOG.info("{}: skipping {}: a definition with that UUID takes its place", configuration.source(),
                        entry.describe());
                continue;
            }
            if (bus.parent(entry.parent()).isEmpty()) {
                LOG.info("{}: skipping {}: parent {} is not installed", configuration.source(), entry.describe(),
                        entry.parent());
                continue;
            }
            try {
                bus.create(new CreateRequest(entry.uuid(), entry.parent(), entry.type(), entry.attrs(options.stateDir()),
                        entry.driver().orElse(null)));
                created++;
            } catch (MdevException e) {
                LOG.warn("{}: {} not created: {}", configuration.source(), entry.describe(), e.getMessage());
            }
        }
        return created;
    }

    /** Closes the control socket, removes every instance (newest first), keeps the definitions. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (server != null) {
            server.close();
        }
        int running = bus.instanceCount();
        bus.close();
        if (pluginsLoaded) {
            plugins.get().close();
        }
        if (lock != null) {
            try {
                lock.close();
            } catch (IOException e) {
                LOG.warn("releasing the state lock: {}", e.toString());
            }
        }
        LOG.info("umdevd stopped: {} instance(s) removed; definitions kept in {}", running, store.directory());
    }
}

package io.umdev.daemon.control;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.umdev.daemon.EventLog;
import io.umdev.daemon.definition.Definition;
import io.umdev.daemon.definition.DefinitionStore;
import io.umdev.daemon.definition.StartPolicy;
import io.umdev.daemon.json.Json;
import io.umdev.linux.Errno;
import io.umdev.mdev.AttributeSpec;
import io.umdev.mdev.CreateRequest;
import io.umdev.mdev.InstanceState;
import io.umdev.mdev.MdevBus;
import io.umdev.mdev.MdevDriver;
import io.umdev.mdev.MdevEvent;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevInstance;
import io.umdev.mdev.MdevType;
import io.umdev.mdev.ParentDevice;
import io.umdev.virtio.pci.VirtioPciDriver;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.UUID;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * What the control socket offers, over the bus and the stored definitions: the mdevctl and vdpa verbs
 * (types, list, start, stop, define, undefine, modify, show, stats) and the binding ones (bind, unbind,
 * rebind). One operation at a time. Each either completes or changes nothing, and fails with a
 * {@link ControlError} naming the field at fault and saying what to do.
 */
@Singleton
public final class DeviceControl {
    private static final Pattern DRIVER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

    private final MdevBus bus;
    private final DefinitionStore store;
    private final EventLog events;
    private final Instant started = Instant.now();

    @Inject
    public DeviceControl(MdevBus bus, DefinitionStore store, EventLog events) {
        this.bus = bus;
        this.store = store;
        this.events = events;
    }

    /** {@code start}: a defined instance (uuid alone) or a transient one (parent and type). */
    public record StartRequest(UUID uuid, String parent, String type, SequencedMap<String, String> attrs,
            String driver) {
    }

    /** {@code define}: from a parent and type, or from the running instance of that UUID. */
    public record DefineRequest(UUID uuid, String parent, String type, SequencedMap<String, String> attrs,
            StartPolicy start, String driver) {
    }

    /**
     * {@code modify}: attributes to set or unset, start policy, driver override (set or cleared); applied
     * to the definition unless {@code live}, to the running instance if {@code live}, to both with
     * {@code live} and {@code defined}.
     */
    public record ModifyRequest(UUID uuid, SequencedMap<String, String> set, List<String> unset, StartPolicy start,
            String driver, boolean clearDriver, boolean live, boolean defined) {
    }

    // ---------------------------------------------------------------- queries

    public synchronized ObjectNode version() {
        ObjectNode node = Json.object();
        String version = DeviceControl.class.getPackage().getImplementationVersion();
        node.put("daemon", "umdevd");
        node.put("version", version == null ? "development build" : version);
        node.put("protocol", ControlProtocol.VERSION);
        node.put("pid", ProcessHandle.current().pid());
        return node;
    }

    /** Parents, their types, device APIs, available instances and attributes. */
    public synchronized ArrayNode types(String parentFilter) throws ControlError {
        List<ParentDevice> parents = bus.parents();
        if (parentFilter != null && parents.stream().noneMatch(p -> p.name().equals(parentFilter))) {
            throw notInstalled(parentFilter);
        }
        ArrayNode list = Json.array();
        for (ParentDevice parent : parents) {
            if (parentFilter != null && !parent.name().equals(parentFilter)) {
                continue;
            }
            ObjectNode p = list.addObject();
            p.put("parent", parent.name());
            ArrayNode types = p.putArray("types");
            for (MdevType type : mdev(() -> bus.types(parent.name()), null, null)) {
                ObjectNode t = types.addObject();
                t.put("name", type.name());
                t.put("description", type.description());
                t.put("deviceApi", type.deviceApi().name());
                int available = mdev(() -> bus.availableInstances(parent.name(), type.name()), null, null);
                if (type.maxInstances() == MdevType.UNLIMITED) {
                    t.putNull("maxInstances");
                    t.putNull("available");
                } else {
                    t.put("maxInstances", type.maxInstances());
                    t.put("available", available);
                }
                t.put("instances", count(parent.name(), type.name()));
                ArrayNode attributes = t.putArray("attributes");
                for (AttributeSpec spec : type.attributes()) {
                    attributes.add(attributeJson(spec));
                }
            }
        }
        return list;
    }

    private long count(String parent, String type) {
        return bus.instances().stream()
                .filter(i -> i.parent().name().equals(parent) && i.type().name().equals(type)).count();
    }

    private static ObjectNode attributeJson(AttributeSpec spec) {
        ObjectNode a = Json.object();
        a.put("name", spec.name());
        a.put("kind", spec.kind().label());
        a.put("description", spec.description());
        a.put("summary", spec.summary());
        a.put("required", spec.isRequired());
        spec.defaultValue().ifPresentOrElse(d -> a.put("default", d), () -> a.putNull("default"));
        spec.minimum().ifPresent(v -> a.put("min", v));
        spec.maximum().ifPresent(v -> a.put("max", v));
        spec.multipleOf().ifPresent(v -> a.put("multipleOf", v));
        if (!spec.choices().isEmpty()) {
            ArrayNode choices = a.putArray("choices");
            spec.choices().forEach(choices::add);
        }
        return a;
    }

    public synchronized ArrayNode drivers() {
        ArrayNode list = Json.array();
        for (MdevDriver driver : bus.drivers()) {
            ObjectNode d = list.addObject();
            d.put("name", driver.name());
            ArrayNode apis = d.putArray("deviceApis");
            driver.deviceApis().stream().map(a -> a.name()).sorted().forEach(apis::add);
            d.put("bound", bus.instances().stream().filter(i -> i.driver().orElse(null) == driver).count());
        }
        return list;
    }

    /** Running instances, or with {@code defined} the definitions; optionally one UUID or one parent. */
    public synchronized ArrayNode list(boolean defined, UUID uuid, String parent) throws ControlError {
        Map<UUID, Definition> definitions = definitionsByUuid();
        ArrayNode list = Json.array();
        if (defined) {
            for (Definition d : definitions.values()) {
                if ((uuid == null || d.uuid().equals(uuid)) && (parent == null || d.parent().equals(parent))) {
                    list.add(definitionJson(d));
                }
            }
        } else {
            for (MdevInstance i : bus.instances()) {
                if ((uuid == null || i.uuid().equals(uuid)) && (parent == null || i.parent().name().equals(parent))) {
                    list.add(instanceJson(i, definitions.get(i.uuid())));
                }
            }
        }
        return list;
    }

    /** One instance: its definition and its live state, whichever exist. */
    public synchronized ObjectNode show(UUID uuid) throws ControlError {
        Optional<Definition> definition = findDefinition(uuid);
        Optional<MdevInstance> instance = bus.instance(uuid);
        if (definition.isEmpty() && instance.isEmpty()) {
            throw new ControlError(ErrorCode.NOT_FOUND, "uuid", "instance " + uuid + " is neither running nor defined",
                    "'umdevctl list' shows running instances, 'umdevctl list --defined' the definitions");
        }
        ObjectNode node = Json.object();
        node.put("uuid", uuid.toString());
        node.put("running", instance.isPresent());
        node.put("defined", definition.isPresent());
        instance.ifPresentOrElse(i -> node.set("instance", instanceJson(i, definition.orElse(null))),
                () -> node.putNull("instance"));
        definition.ifPresentOrElse(d -> node.set("definition", definitionJson(d)), () -> node.putNull("definition"));
        instance.ifPresent(i -> node.set("statistics", deviceStatistics(i)));
        return node;
    }

    /** Bus-wide counters, or one instance's. */
    public synchronized ObjectNode stats(UUID uuid) throws ControlError {
        ObjectNode node = Json.object();
        if (uuid != null) {
            MdevInstance instance = running(uuid);
            node.put("uuid", uuid.toString());
            node.put("state", instance.state().label());
            instance.driver().ifPresentOrElse(d -> node.put("driver", d.name()), () -> node.putNull("driver"));
            node.put("dmaMappings", instance.context().hasDmaTable() ? instance.dmaTable().size() : 0);
            node.set("device", deviceStatistics(instance));
            return node;
        }
        List<MdevInstance> instances = bus.instances();
        node.put("uptimeSeconds", Duration.between(started, Instant.now()).toSeconds());
        node.put("instances", instances.size());
        node.put("bound", instances.stream().filter(i -> i.state() == InstanceState.BOUND).count());
        node.put("unbound", instances.stream().filter(i -> i.state() == InstanceState.UNBOUND).count());
        node.put("defined", definitionsByUuid().size());
        node.put("parents", bus.parents().size());
        node.put("drivers", bus.drivers().size());
        ObjectNode counted = node.putObject("events");
        for (MdevEvent.Kind kind : MdevEvent.Kind.values()) {
            counted.put(kind.label(), events.count(kind));
        }
        return node;
    }

    private static ObjectNode deviceStatistics(MdevInstance instance) {
        ObjectNode stats = Json.object();
        try {
            instance.device().statistics().forEach(stats::put);
        } catch (RuntimeException e) {
            stats.put("error", "the parent failed to report statistics: " + e);
        }
        return stats;
    }

    // ---------------------------------------------------------------- lifecycle

    /** Starts a defined instance (uuid alone) or a transient one (parent, type, attrs, driver). */
    public synchronized ObjectNode start(StartRequest r) throws ControlError {
        if (r.parent() == null && r.type() == null) {
            if (r.uuid() == null) {
                throw new ControlError(ErrorCode.INVALID, "uuid", "nothing to start: no UUID, parent or type given",
                        "start a defined instance with --uuid, or a transient one with --parent and --type");
            }
            Definition definition = findDefinition(r.uuid()).orElseThrow(() -> new ControlError(ErrorCode.NOT_FOUND,
                    "uuid", "instance " + r.uuid() + " is not defined",
                    "define it first ('umdevctl define'), or give --parent and --type to start a transient instance"));
            if (r.attrs() != null || r.driver() != null) {
                throw new ControlError(ErrorCode.INVALID, r.attrs() != null ? "attrs" : "driver",
                        "a defined instance starts as defined; attributes and driver cannot be given here",
                        "change the definition with 'umdevctl modify -u " + r.uuid() + "', then start it");
            }
            return instanceJson(startDefinition(definition), definition);
        }
        if (r.parent() == null || r.type() == null) {
            String missing = r.parent() == null ? "parent" : "type";
            throw new ControlError(ErrorCode.INVALID, missing, "a transient instance needs a " + missing + " too",
                    "give both --parent and --type ('umdevctl types' lists them)");
        }
        if (r.uuid() != null) {
            Optional<Definition> definition = findDefinition(r.uuid());
            if (definition.isPresent()) {
                throw new ControlError(ErrorCode.EXISTS, "uuid", "UUID " + r.uuid() + " is defined (as "
                        + definition.get().parent() + "/" + definition.get().type() + ")",
                        "start the definition with 'umdevctl start -u " + r.uuid() + "' alone, or undefine it first");
            }
        }
        checkDriverName(r.driver());
        CreateRequest create = new CreateRequest(r.uuid(), r.parent(), r.type(),
                r.attrs() == null ? new LinkedHashMap<>() : r.attrs(), r.driver());
        return instanceJson(mdev(() -> bus.create(create), r.parent(), r.type()), null);
    }

    /** Creates the instance a definition describes; used by {@code start} and at daemon start. */
    public synchronized MdevInstance startDefinition(Definition d) throws ControlError {
        if (bus.instance(d.uuid()).isPresent()) {
            throw new ControlError(ErrorCode.EXISTS, "uuid", "instance " + d.uuid() + " is already running",
                    "'umdevctl show -u " + d.uuid() + "' shows it");
        }
        CreateRequest create = new CreateRequest(d.uuid(), d.parent(), d.type(), d.attrs(), d.driver().orElse(null));
        return mdev(() -> bus.create(create), d.parent(), d.type());
    }

    /** Removes a running instance; its definition, if any, stays. */
    public synchronized ObjectNode stop(UUID uuid) throws ControlError {
        running(uuid);
        mdev(() -> {
            bus.remove(uuid);
            return null;
        }, null, null);
        ObjectNode node = Json.object();
        node.put("uuid", uuid.toString());
        node.put("defined", findDefinition(uuid).isPresent());
        return node;
    }

    public synchronized ObjectNode define(DefineRequest r) throws ControlError {
        UUID uuid = r.uuid() != null ? r.uuid() : UUID.randomUUID();
        Optional<Definition> existing = findDefinition(uuid);
        if (existing.isPresent()) {
            throw new ControlError(ErrorCode.EXISTS, "uuid", "instance " + uuid + " is already defined (as "
                    + existing.get().parent() + "/" + existing.get().type() + ")",
                    "change it with 'umdevctl modify -u " + uuid + "', or remove it with 'umdevctl undefine'");
        }
        Optional<MdevInstance> running = bus.instance(uuid);
        StartPolicy start = r.start() != null ? r.start() : StartPolicy.MANUAL;
        Definition definition;
        if (r.parent() == null && r.type() == null) {
            MdevInstance instance = running.orElseThrow(() -> new ControlError(ErrorCode.INVALID, "parent",
                    "a definition needs a parent and a type" + (r.uuid() != null ? ", or a running instance " + uuid
                            + " to copy them from" : ""),
                    "give --parent and --type ('umdevctl types' lists them)"));
            if (r.attrs() != null || r.driver() != null) {
                throw new ControlError(ErrorCode.INVALID, r.attrs() != null ? "attrs" : "driver",
                        "defining running instance " + uuid + " copies its attributes and driver override",
                        "define it as it runs, then change the definition with 'umdevctl modify'");
            }
            definition = new Definition(uuid, instance.parent().name(), instance.type().name(), start,
                    instance.attributes().given(), instance.driverOverride());
        } else {
            if (r.parent() == null || r.type() == null) {
                String missing = r.parent() == null ? "parent" : "type";
                throw new ControlError(ErrorCode.INVALID, missing, "a definition needs a " + missing + " too",
                        "give both --parent and --type ('umdevctl types' lists them)");
            }
            SequencedMap<String, String> attrs = r.attrs() == null ? new LinkedHashMap<>() : r.attrs();
            mdev(() -> bus.validate(r.parent(), r.type(), attrs), r.parent(), r.type());
            checkDriverName(r.driver());
            if (running.isPresent() && !(running.get().parent().name().equals(r.parent())
                    && running.get().type().name().equals(r.type()))) {
                throw new ControlError(ErrorCode.INVALID, "uuid", "a running instance " + uuid + " is "
                        + running.get().parent().name() + "/" + running.get().type().name() + ", not " + r.parent()
                        + "/" + r.type(), "stop it first, or pick another UUID");
            }
            definition = new Definition(uuid, r.parent(), r.type(), start, attrs, Optional.ofNullable(r.driver()));
        }
        write(definition);
        return definitionJson(definition);
    }

    /** Removes a definition; a running instance keeps running (as mdevctl does). */
    public synchronized ObjectNode undefine(UUID uuid) throws ControlError {
        boolean deleted;
        try {
            deleted = store.delete(uuid);
        } catch (IOException e) {
            throw storeFailure("removing the definition of " + uuid, e);
        }
        if (!deleted) {
            throw new ControlError(ErrorCode.NOT_FOUND, "uuid", "instance " + uuid + " is not defined",
                    "'umdevctl list --defined' shows the definitions");
        }
        ObjectNode node = Json.object();
        node.put("uuid", uuid.toString());
        node.put("running", bus.instance(uuid).isPresent());
        return node;
    }

    public synchronized ObjectNode modify(ModifyRequest r) throws ControlError {
        boolean changesAttrs = !r.set().isEmpty() || !r.unset().isEmpty();
        boolean changesDriver = r.driver() != null || r.clearDriver();
        if (!changesAttrs && !changesDriver && r.start() == null) {
            throw new ControlError(ErrorCode.INVALID, null, "nothing to change",
                    "give attributes to set (--attr NAME=VALUE) or unset (--delattr NAME), --auto/--manual, "
                            + "--driver NAME or --no-driver");
        }
        if (r.driver() != null && r.clearDriver()) {
            throw new ControlError(ErrorCode.INVALID, "driver", "a driver to set and a driver to clear",
                    "give --driver NAME or --no-driver, not both");
        }
        checkDriverName(r.driver());
        boolean toDefinition = !r.live() || r.defined();
        if (!toDefinition && r.start() != null) {
            throw new ControlError(ErrorCode.INVALID, "start", "the start policy belongs to the definition, not to "
                    + "the running instance", "drop --live, or add --defined to change both");
        }

        // Check everything before changing anything.
        Definition nextDefinition = null;
        if (toDefinition) {
            Definition current = findDefinition(r.uuid()).orElseThrow(() -> new ControlError(ErrorCode.NOT_FOUND,
                    "uuid", "instance " + r.uuid() + " is not defined",
                    "modify the running instance with --live, or define it first"));
            SequencedMap<String, String> attrs = merge(current.attrs(), r.set(), r.unset(), "the definition");
            mdev(() -> bus.validate(current.parent(), current.type(), attrs), current.parent(), current.type());
            nextDefinition = current.withAttrs(attrs)
                    .withStart(r.start() != null ? r.start() : current.start())
                    .withDriver(r.clearDriver() ? Optional.empty()
                            : r.driver() != null ? Optional.of(r.driver()) : current.driver());
        }
        MdevInstance instance = null;
        SequencedMap<String, String> liveAttrs = null;
        if (r.live()) {
            instance = running(r.uuid());
            if (changesAttrs) {
                MdevInstance i = instance;
                liveAttrs = merge(i.attributes().given(), r.set(), r.unset(), "the running instance");
                SequencedMap<String, String> attrs = liveAttrs;
                mdev(() -> bus.validate(i.parent().name(), i.type().name(), attrs), i.parent().name(), i.type().name());
            }
        }

        // Apply: the running instance first (its parent may still refuse), then the definition.
        if (instance != null) {
            MdevInstance i = instance;
            if (liveAttrs != null) {
                SequencedMap<String, String> attrs = liveAttrs;
                mdev(() -> bus.updateAttributes(r.uuid(), attrs), i.parent().name(), i.type().name());
            }
            if (changesDriver) {
                mdev(() -> {
                    bus.setDriverOverride(r.uuid(), r.clearDriver() ? null : r.driver());
                    return bus.rebind(r.uuid());
                }, i.parent().name(), i.type().name());
            }
        }
        if (nextDefinition != null) {
            write(nextDefinition);
        }
        ObjectNode node = Json.object();
        node.put("uuid", r.uuid().toString());
        if (nextDefinition != null) {
            node.set("definition", definitionJson(nextDefinition));
        } else {
            node.putNull("definition");
        }
        Definition shown = nextDefinition;
        bus.instance(r.uuid()).ifPresentOrElse(i -> node.set("instance", instanceJson(i, shown)),
                () -> node.putNull("instance"));
        return node;
    }

    private static SequencedMap<String, String> merge(SequencedMap<String, String> current,
            SequencedMap<String, String> set, List<String> unset, String where) throws ControlError {
        LinkedHashMap<String, String> next = new LinkedHashMap<>(current);
        for (String name : unset) {
            if (set.containsKey(name)) {
                throw new ControlError(ErrorCode.INVALID, "attrs." + name, "attribute '" + name
                        + "' is both set and unset", "give it once");
            }
            if (next.remove(name) == null) {
                throw new ControlError(ErrorCode.INVALID, "attrs." + name, "attribute '" + name + "' is not set in "
                        + where, "its attributes: " + (current.isEmpty() ? "none" : String.join(", ", current.keySet())));
            }
        }
        next.putAll(set);
        return next;
    }

    // ---------------------------------------------------------------- binding

    public synchronized ObjectNode bind(UUID uuid, String driver) throws ControlError {
        MdevInstance instance = running(uuid);
        if (driver != null) {
            mdev(() -> {
                bus.bind(uuid, driver);
                return null;
            }, instance.parent().name(), instance.type().name());
        } else {
            Optional<MdevDriver> bound = mdev(() -> bus.bind(uuid), instance.parent().name(), instance.type().name());
            if (bound.isEmpty()) {
                throw new ControlError(ErrorCode.REFUSED, "driver", "no registered driver binds instance " + uuid
                        + " (device API " + instance.deviceApi() + (instance.driverOverride().isPresent()
                                ? ", driver override " + instance.driverOverride().get() : "") + ")",
                        "'umdevctl drivers' lists the drivers and the device APIs they bind");
            }
        }
        return instanceJson(instance, findDefinition(uuid).orElse(null));
    }

    public synchronized ObjectNode unbind(UUID uuid) throws ControlError {
        MdevInstance instance = running(uuid);
        mdev(() -> {
            bus.unbind(uuid);
            return null;
        }, instance.parent().name(), instance.type().name());
        return instanceJson(instance, findDefinition(uuid).orElse(null));
    }

    public synchronized ObjectNode rebind(UUID uuid) throws ControlError {
        MdevInstance instance = running(uuid);
        mdev(() -> bus.rebind(uuid), instance.parent().name(), instance.type().name());
        return instanceJson(instance, findDefinition(uuid).orElse(null));
    }

    // ---------------------------------------------------------------- views

    /** A running instance, with what its definition says if it has one. */
    public static ObjectNode instanceJson(MdevInstance i, Definition definition) {
        ObjectNode node = Json.object();
        node.put("uuid", i.uuid().toString());
        node.put("parent", i.parent().name());
        node.put("type", i.type().name());
        node.put("deviceApi", i.deviceApi().name());
        node.put("state", i.state().label());
        i.driver().ifPresentOrElse(d -> node.put("driver", d.name()), () -> node.putNull("driver"));
        i.driverOverride().ifPresentOrElse(d -> node.put("driverOverride", d), () -> node.putNull("driverOverride"));
        node.set("attrs", Json.attrs(i.attributes().given()));
        ObjectNode effective = node.putObject("effectiveAttrs");
        i.attributes().effective().forEach(effective::put);
        node.put("dmaMappings", i.context().hasDmaTable() ? i.dmaTable().size() : 0);
        Optional<Path> socket = i.driver().filter(VirtioPciDriver.class::isInstance).map(VirtioPciDriver.class::cast)
                .flatMap(d -> d.socketPath(i.uuid()));
        socket.ifPresentOrElse(s -> {
            node.put("socket", s.toString());
            node.put("qemu", VirtioPciDriver.qemuCommandLine(s));
        }, () -> {
            node.putNull("socket");
            node.putNull("qemu");
        });
        node.put("defined", definition != null);
        if (definition != null) {
            node.put("start", definition.start().label());
        } else {
            node.putNull("start");
        }
        return node;
    }

    private ObjectNode definitionJson(Definition d) {
        ObjectNode node = d.toJson();
        if (d.driver().isEmpty()) {
            node.putNull("driver");
        }
        node.put("running", bus.instance(d.uuid()).isPresent());
        return node;
    }

    // ---------------------------------------------------------------- helpers

    @FunctionalInterface
    private interface BusCall<T> {
        T run() throws MdevException;
    }

    /** Runs a bus call, turning its refusal into a ControlError with a hint for the field at fault. */
    private static <T> T mdev(BusCall<T> call, String parent, String type) throws ControlError {
        try {
            return call.run();
        } catch (MdevException e) {
            throw translate(e, parent, type);
        }
    }

    static ControlError translate(MdevException e, String parent, String type) {
        String field = e.field().orElse(null);
        String hint = null;
        if (e.errno() == Errno.ENOSPC) {
            hint = "stop an instance of this type ('umdevctl list -p " + parent + "'), or use another type";
        } else if (field == null) {
            hint = e.errno() == Errno.EIO ? "the daemon's log has the details" : null;
        } else if (field.equals("parent")) {
            hint = "'umdevctl types' lists the installed parents; a third-party parent is a jar in a plugin directory";
        } else if (field.equals("type")) {
            hint = "'umdevctl types -p " + parent + "' lists its types";
        } else if (field.equals("driver")) {
            hint = "'umdevctl drivers' lists the registered drivers and the device APIs they bind";
        } else if (field.startsWith("attrs")) {
            hint = "'umdevctl types -p " + parent + "' shows the attributes of type " + type
                    + ", their ranges and defaults";
        } else if (field.equals("uuid")) {
            hint = switch (e.errno()) {
                case Errno.EEXIST -> "pick another UUID, or give none to have one generated";
                case Errno.ENOENT -> "'umdevctl list' shows the running instances";
                default -> null;
            };
        }
        return new ControlError(ErrorCode.ofErrno(e.errno()), Errno.name(e.errno()), field, e.getMessage(), hint);
    }

    private MdevInstance running(UUID uuid) throws ControlError {
        return bus.instance(uuid).orElseThrow(() -> new ControlError(ErrorCode.NOT_FOUND, "uuid",
                "instance " + uuid + " is not running", "'umdevctl list' shows the running instances"
                        + " ('umdevctl start -u " + uuid + "' starts a defined one)"));
    }

    private ControlError notInstalled(String parent) {
        String installed = bus.parents().stream().map(ParentDevice::name).collect(Collectors.joining(", "));
        return new ControlError(ErrorCode.NOT_FOUND, "parent", "no parent '" + parent + "' is installed; "
                + (installed.isEmpty() ? "none are" : "installed: " + installed),
                "a third-party parent is a jar in a plugin directory (see 'umdevd --help')");
    }

    private static void checkDriverName(String driver) throws ControlError {
        if (driver != null && !DRIVER_NAME.matcher(driver).matches()) {
            throw new ControlError(ErrorCode.INVALID, "driver", "'" + driver + "' is not a driver name",
                    "a driver name is 1-64 letters, digits, '_', '-' or '.'; 'umdevctl drivers' lists them");
        }
    }

    private Optional<Definition> findDefinition(UUID uuid) throws ControlError {
        try {
            return store.find(uuid);
        } catch (IOException e) {
            throw storeFailure("reading the definition of " + uuid, e);
        }
    }

    private Map<UUID, Definition> definitionsByUuid() throws ControlError {
        try {
            return store.loadAll().stream().collect(Collectors.toMap(Definition::uuid, Function.identity(),
                    (a, b) -> a, LinkedHashMap::new));
        } catch (IOException e) {
            throw storeFailure("reading the definitions", e);
        }
    }

    private void write(Definition definition) throws ControlError {
        try {
            store.write(definition);
        } catch (IOException e) {
            throw storeFailure("writing the definition of " + definition.uuid(), e);
        }
    }

    private ControlError storeFailure(String what, IOException e) {
        return new ControlError(ErrorCode.INTERNAL, "EIO", null, what + " failed: " + e.getMessage(),
                "check the definitions directory " + store.directory() + " (space, permissions)");
    }
}

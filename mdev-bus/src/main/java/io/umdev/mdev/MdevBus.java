package io.umdev.mdev;

import io.umdev.linux.Errno;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bus, after the kernel's mdev core and vDPA bus: parents register with their types, instances are
 * created from a type by UUID with validated attributes, and drivers bind instances by device API (or
 * by an explicit per-instance override, like {@code driver_override}).
 *
 * <p><b>All or nothing.</b> A create checks the parent, the type, the attributes, the UUID and the
 * type's available instances before the parent is called; if the parent refuses or the driver's probe
 * fails, whatever was done is undone, a {@code failed} event is emitted and the instance never appears.
 *
 * <p><b>Threads.</b> Management operations (create, remove, bind, registration...) are serialized by
 * one lock; parents and drivers are called under it, one call at a time. Queries take no lock. Events
 * go to listeners after the lock is released, in the order the changes happened.
 *
 * <p><b>DMA.</b> Each instance has its own {@link io.umdev.vfiouser.dma.DmaTable}, made when its parent
 * or a driver first asks for it ({@link InstanceContext#dmaTable()}) and closed when the instance goes.
 *
 * <p><b>Errors.</b> Every operation either succeeds or throws an {@link MdevException} with an errno
 * and the field at fault; what parents and drivers throw is caught here and reported the same way.
 */
public final class MdevBus implements AutoCloseable {
    /** DMA ranges an instance's client may map unless the bus is told otherwise. */
    public static final int DEFAULT_DMA_MAPPINGS = 64;

    private static final Logger LOG = LoggerFactory.getLogger(MdevBus.class);
    private static final Pattern PARENT_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}");
    private static final Pattern DRIVER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");

    private final int dmaMappings;
    private final ReentrantLock lock = new ReentrantLock();
    private final ConcurrentHashMap<UUID, MdevInstance> instances = new ConcurrentHashMap<>();
    /** Copy-on-write under the lock, read without it. */
    private volatile Map<String, RegisteredParent> parents = Map.of();
    private volatile Map<String, MdevDriver> drivers = Map.of();
    private long nextSequence;
    private boolean closed;

    private final CopyOnWriteArrayList<MdevListener> listeners = new CopyOnWriteArrayList<>();
    private final ConcurrentLinkedQueue<MdevEvent> pending = new ConcurrentLinkedQueue<>();
    private final ReentrantLock delivery = new ReentrantLock();

    /** A bus whose instances' DMA tables take {@link #DEFAULT_DMA_MAPPINGS} ranges. */
    public MdevBus() {
        this(DEFAULT_DMA_MAPPINGS);
    }

    /** @param dmaMappings how many DMA ranges each instance's client may map */
    public MdevBus(int dmaMappings) {
        if (dmaMappings < 1) {
            throw new IllegalArgumentException("dmaMappings must be positive: " + dmaMappings);
        }
        this.dmaMappings = dmaMappings;
    }

    /** A parent and the live count of each of its types. */
    private record RegisteredParent(ParentDevice parent, Map<String, TypeSlot> types) {
    }

    private static final class TypeSlot {
        final MdevType type;
        /** Written under the lock, read without it. */
        volatile int count;

        TypeSlot(MdevType type) {
            this.type = type;
        }

        int available() {
            return type.maxInstances() - count;
        }
    }

    /** Ends a subscription. */
    public interface Subscription extends AutoCloseable {
        @Override
        void close();
    }

    @FunctionalInterface
    private interface Operation<T> {
        T run() throws MdevException;
    }

    private <T> T manage(Operation<T> operation) throws MdevException {
        lock.lock();
        try {
            if (closed) {
                throw new MdevException(Errno.ENODEV, null, "the bus is shut down");
            }
            return operation.run();
        } finally {
            lock.unlock();
            deliver();
        }
    }

    // ---------------------------------------------------------------- parents and drivers

    /**
     * Registers a parent and its types.
     *
     * @throws MdevException EEXIST if a parent of that name is registered, EINVAL for a bad name or types
     */
    public void addParent(ParentDevice parent) throws MdevException {
        Objects.requireNonNull(parent, "parent");
        manage(() -> {
            String name = parent.name();
            if (name == null || !PARENT_NAME.matcher(name).matches()) {
                throw MdevException.invalid("parent", "a parent name is 1-64 letters, digits, '_', '-', '.' or ':': '"
                        + name + "'");
            }
            if (parents.containsKey(name)) {
                throw MdevException.exists("parent", "a parent named '" + name + "' is already registered");
            }
            List<MdevType> types;
            try {
                types = List.copyOf(parent.types());
            } catch (RuntimeException e) {
                throw new MdevException(Errno.EIO, "parent", "parent " + name + " failed to list its types: " + e, e);
            }
            LinkedHashMap<String, TypeSlot> slots = new LinkedHashMap<>();
            for (MdevType type : types) {
                if (slots.putIfAbsent(type.name(), new TypeSlot(type)) != null) {
                    throw MdevException.invalid("type", "parent " + name + " offers two types named " + type.name());
                }
            }
            LinkedHashMap<String, RegisteredParent> next = new LinkedHashMap<>(parents);
            next.put(name, new RegisteredParent(parent, Collections.unmodifiableMap(slots)));
            parents = Collections.unmodifiableMap(next);
            LOG.debug("parent {} registered with types {}", name, slots.keySet());
            return null;
        });
    }

    /** Unregisters a parent, removing its instances first (newest first). */
    public void removeParent(String name) throws MdevException {
        manage(() -> {
            RegisteredParent registered = parentOrThrow(name);
            for (MdevInstance instance : newestFirst()) {
                if (instance.parent() == registered.parent()) {
                    removeLocked(instance);
                }
            }
            LinkedHashMap<String, RegisteredParent> next = new LinkedHashMap<>(parents);
            next.remove(name);
            parents = Collections.unmodifiableMap(next);
            LOG.debug("parent {} unregistered", name);
            return null;
        });
    }

    /**
     * Registers a driver, then offers it every unbound instance it may bind (as the kernel does when a
     * driver module loads). A probe that fails there leaves that instance unbound with a {@code failed}
     * event; it does not fail the registration.
     */
    public void addDriver(MdevDriver driver) throws MdevException {
        Objects.requireNonNull(driver, "driver");
        manage(() -> {
            String name = driver.name();
            if (name == null || !DRIVER_NAME.matcher(name).matches()) {
                throw MdevException.invalid("driver", "a driver name is 1-64 letters, digits, '_', '-' or '.': '"
                        + name + "'");
            }
            if (drivers.containsKey(name)) {
                throw MdevException.exists("driver", "a driver named '" + name + "' is already registered");
            }
            if (driver.deviceApis() == null || driver.deviceApis().isEmpty()) {
                throw MdevException.invalid("driver", "driver " + name + " binds no device API");
            }
            LinkedHashMap<String, MdevDriver> next = new LinkedHashMap<>(drivers);
            next.put(name, driver);
            drivers = Collections.unmodifiableMap(next);
            LOG.debug("driver {} registered for {}", name, driver.deviceApis());
            for (MdevInstance instance : oldestFirst()) {
                if (instance.state() == InstanceState.UNBOUND && candidates(instance).contains(driver)) {
                    try {
                        if (probe(instance, List.of(driver)) != null) {
                            emit(MdevEvent.Kind.BOUND, instance, name, null);
                        }
                    } catch (MdevException e) {
                        failed(instance, name, e.getMessage());
                    }
                }
            }
            return null;
        });
    }

    /** Unbinds every instance the driver holds (newest first), then unregisters it. */
    public void removeDriver(String name) throws MdevException {
        manage(() -> {
            MdevDriver driver = drivers.get(name);
            if (driver == null) {
                throw MdevException.notFound("driver", "no driver '" + name + "' is registered; " + driverNames());
            }
            for (MdevInstance instance : newestFirst()) {
                if (instance.driver().orElse(null) == driver) {
                    unbindLocked(instance);
                }
            }
            LinkedHashMap<String, MdevDriver> next = new LinkedHashMap<>(drivers);
            next.remove(name);
            drivers = Collections.unmodifiableMap(next);
            LOG.debug("driver {} unregistered", name);
            return null;
        });
    }

    // ---------------------------------------------------------------- instances

    /**
     * Creates an instance: validates, asks the parent for the device, then binds the driver the override
     * names or the first matching driver that does not decline. With no driver to bind, the instance is
     * created unbound.
     *
     * @throws MdevException ENOENT (parent, type), EEXIST (uuid), EINVAL (attrs.*, driver), ENOSPC (type:
     *     no available instance), the parent's refusal, or a failed probe; in every case nothing changed
     */
    public MdevInstance create(CreateRequest request) throws MdevException {
        Objects.requireNonNull(request, "request");
        return manage(() -> createLocked(request));
    }

    private MdevInstance createLocked(CreateRequest request) throws MdevException {
        RegisteredParent registered = parentOrThrow(request.parent());
        TypeSlot slot = typeOrThrow(registered, request.type());
        MdevType type = slot.type;
        String override = request.driverOverride();
        if (override != null) {
            checkDriverName(override);
        }
        UUID uuid = request.uuid();
        if (uuid == null) {
            do {
                uuid = UUID.randomUUID();
            } while (instances.containsKey(uuid));
        } else {
            MdevInstance existing = instances.get(uuid);
            if (existing != null) {
                throw MdevException.exists("uuid", "an instance with UUID " + uuid + " already exists ("
                        + existing.parent().name() + "/" + existing.type().name() + ")");
            }
        }
        Attributes attributes = type.parseAttributes(request.attributes());
        checkWithParent(registered.parent(), type, attributes);
        if (slot.available() <= 0) {
            throw MdevException.noSpace("type", "type " + registered.parent().name() + "/" + type.name()
                    + " has no available instances (all " + type.maxInstances() + " are in use)");
        }

        ParentDevice parent = registered.parent();
        InstanceContext context = new InstanceContext(uuid, type, attributes, dmaMappings);
        MdevDevice device;
        try {
            device = parent.create(context);
            if (device == null || !type.deviceApi().equals(device.deviceApi())) {
                String problem = device == null ? "returned no device"
                        : "returned a " + device.deviceApi() + " device for a " + type.deviceApi() + " type";
                if (device != null) {
                    removeQuietly(parent, device);
                }
                throw new IllegalStateException(problem);
            }
        } catch (MdevException e) {
            context.closeDmaTable();
            failed(uuid, parent.name(), type.name(), null, "parent refused: " + e.getMessage());
            throw e;
        } catch (Exception | LinkageError | AssertionError e) {
            context.closeDmaTable();
            String message = "parent " + parent.name() + " failed to create the instance: " + e;
            LOG.warn(message, e);
            failed(uuid, parent.name(), type.name(), null, message);
            throw new MdevException(Errno.EIO, null, message, e);
        }

        MdevInstance instance = new MdevInstance(context, parent, device, override, nextSequence++);
        try {
            probe(instance, candidates(instance));
        } catch (MdevException e) {
            removeQuietly(parent, device);
            context.closeDmaTable();
            instance.removed();
            failed(uuid, parent.name(), type.name(), null, e.getMessage());
            throw e;
        }
        instances.put(uuid, instance);
        slot.count++;
        emit(MdevEvent.Kind.ADDED, instance, null, null);
        instance.driver().ifPresent(d -> emit(MdevEvent.Kind.BOUND, instance, d.name(), null));
        return instance;
    }

    /**
     * Removes an instance: its driver lets go, its parent releases the device, its DMA table is
     * unmapped. Emits {@code unbound} (if it was bound) then {@code removed}.
     *
     * @throws MdevException ENOENT if there is no such instance
     */
    public void remove(UUID uuid) throws MdevException {
        manage(() -> {
            removeLocked(instanceOrThrow(uuid));
            return null;
        });
    }

    private void removeLocked(MdevInstance instance) {
        if (instance.state() == InstanceState.BOUND) {
            unbindLocked(instance);
        }
        removeQuietly(instance.parent(), instance.device());
        try {
            instance.context().closeDmaTable();
        } catch (RuntimeException e) {
            LOG.warn("unmapping the DMA table of {}: {}", instance.uuid(), e.toString());
        }
        instances.remove(instance.uuid());
        slotOf(instance).count--;
        instance.removed();
        emit(MdevEvent.Kind.REMOVED, instance, null, null);
    }

    private static void removeQuietly(ParentDevice parent, MdevDevice device) {
        try {
            parent.remove(device);
        } catch (Exception | LinkageError | AssertionError e) {
            LOG.warn("parent {} failed to remove a device; dropping it anyway", parent.name(), e);
        }
    }

    /**
     * Sets (or with null clears) the instance's driver override: from now on only that driver may bind
     * it. Like the kernel's {@code driver_override}, this does not change the current binding; call
     * {@link #rebind} for that.
     */
    public void setDriverOverride(UUID uuid, String driver) throws MdevException {
        manage(() -> {
            MdevInstance instance = instanceOrThrow(uuid);
            if (driver != null) {
                checkDriverName(driver);
            }
            instance.setDriverOverride(driver);
            return null;
        });
    }

    /**
     * Binds an unbound instance to the driver its override names, or else to the first registered driver
     * of its device API that does not decline.
     *
     * @return the driver bound, or empty if none would (the instance stays unbound)
     * @throws MdevException ENOENT, EBUSY if already bound, or the failure of a probe (with a
     *     {@code failed} event)
     */
    public Optional<MdevDriver> bind(UUID uuid) throws MdevException {
        return manage(() -> {
            MdevInstance instance = instanceOrThrow(uuid);
            requireUnbound(instance);
            return Optional.ofNullable(probeOrFail(instance, candidates(instance)));
        });
    }

    /**
     * Binds an unbound instance to the named driver (the kernel's {@code bind} file).
     *
     * @throws MdevException ENOENT (uuid, driver), EBUSY if already bound, EINVAL (driver) if the driver
     *     does not bind the instance's device API or the override names another driver, ENODEV if the
     *     driver declines, or the failure of its probe
     */
    public void bind(UUID uuid, String driverName) throws MdevException {
        manage(() -> {
            MdevInstance instance = instanceOrThrow(uuid);
            requireUnbound(instance);
            MdevDriver driver = drivers.get(driverName);
            if (driver == null) {
                throw MdevException.notFound("driver", "no driver '" + driverName + "' is registered; " + driverNames());
            }
            if (!driver.deviceApis().contains(instance.deviceApi())) {
                throw MdevException.invalid("driver", "driver " + driverName + " does not bind device API "
                        + instance.deviceApi() + " (it binds " + apis(driver) + ")");
            }
            String override = instance.driverOverride().orElse(null);
            if (override != null && !override.equals(driverName)) {
                throw MdevException.invalid("driver", "instance " + uuid + " may only be bound by its driver "
                        + "override '" + override + "'; change or clear the override first");
            }
            if (probeOrFail(instance, List.of(driver)) == null) {
                String message = "driver " + driverName + " declined instance " + uuid;
                failed(instance, driverName, message);
                throw new MdevException(Errno.ENODEV, "driver", message);
            }
            return null;
        });
    }

    /**
     * Unbinds the instance from its driver; it stays on the bus, unbound.
     *
     * @throws MdevException ENOENT, or EINVAL if it is not bound
     */
    public void unbind(UUID uuid) throws MdevException {
        manage(() -> {
            MdevInstance instance = instanceOrThrow(uuid);
            if (instance.state() != InstanceState.BOUND) {
                throw MdevException.invalid("uuid", "instance " + uuid + " is not bound to a driver");
            }
            unbindLocked(instance);
            return null;
        });
    }

    /**
     * Unbinds the instance if it is bound, then binds it as {@link #bind(UUID)} does: how a changed
     * driver override takes effect.
     *
     * @return the driver now bound, or empty
     */
    public Optional<MdevDriver> rebind(UUID uuid) throws MdevException {
        return manage(() -> {
            MdevInstance instance = instanceOrThrow(uuid);
            if (instance.state() == InstanceState.BOUND) {
                unbindLocked(instance);
            }
            return Optional.ofNullable(probeOrFail(instance, candidates(instance)));
        });
    }

    /**
     * Replaces the attributes of a running instance with {@code attributes} (the complete new set, as
     * given by the user), if its parent supports that ({@link ParentDevice#update}).
     *
     * @throws MdevException ENOENT, EINVAL naming an attribute, or the parent's refusal (EOPNOTSUPP by
     *     default); the instance is then unchanged
     */
    public Attributes updateAttributes(UUID uuid, SequencedMap<String, String> attributes) throws MdevException {
        return manage(() -> {
            MdevInstance instance = instanceOrThrow(uuid);
            Attributes next = instance.type().parseAttributes(attributes);
            checkWithParent(instance.parent(), instance.type(), next);
            try {
                instance.parent().update(instance.device(), next);
            } catch (MdevException e) {
                failed(instance, null, "update refused: " + e.getMessage());
                throw e;
            } catch (Exception | LinkageError | AssertionError e) {
                String message = "parent " + instance.parent().name() + " failed to update the instance: " + e;
                LOG.warn(message, e);
                failed(instance, null, message);
                throw new MdevException(Errno.EIO, null, message, e);
            }
            instance.setAttributes(next);
            return next;
        });
    }

    /**
     * Validates attributes for a type without creating anything, with the parent's
     * {@link ParentDevice#validate} check: what a stored definition is checked with.
     */
    public Attributes validate(String parent, String type, SequencedMap<String, String> attributes)
            throws MdevException {
        RegisteredParent registered = parentOrThrow(parent);
        MdevType mdevType = typeOrThrow(registered, type).type;
        Attributes parsed = mdevType.parseAttributes(attributes);
        checkWithParent(registered.parent(), mdevType, parsed);
        return parsed;
    }

    /** The parent's own check of a combination of attributes; what it throws unexpectedly is its failure. */
    private static void checkWithParent(ParentDevice parent, MdevType type, Attributes attributes)
            throws MdevException {
        try {
            parent.validate(type, attributes);
        } catch (MdevException e) {
            throw e;
        } catch (Exception | LinkageError | AssertionError e) {
            String message = "parent " + parent.name() + " failed to check the attributes: " + e;
            LOG.warn(message, e);
            throw new MdevException(Errno.EIO, null, message, e);
        }
    }

    // ---------------------------------------------------------------- binding internals (lock held)

    /** The drivers that may bind the instance, in the order they are tried. */
    private List<MdevDriver> candidates(MdevInstance instance) {
        String override = instance.driverOverride().orElse(null);
        if (override != null) {
            MdevDriver driver = drivers.get(override);
            if (driver == null) {
                LOG.debug("{}: override names driver {}, which is not registered", instance.uuid(), override);
                return List.of();
            }
            if (!driver.deviceApis().contains(instance.deviceApi())) {
                LOG.warn("{}: override names driver {}, which does not bind device API {}", instance.uuid(), override,
                        instance.deviceApi());
                return List.of();
            }
            return List.of(driver);
        }
        List<MdevDriver> matching = new ArrayList<>(2);
        for (MdevDriver driver : drivers.values()) {
            if (driver.deviceApis().contains(instance.deviceApi())) {
                matching.add(driver);
            }
        }
        return matching;
    }

    /**
     * Tries the candidates in order: the first that does not decline binds the instance.
     *
     * @return the driver bound, or null if all declined (or there were none)
     * @throws MdevException the failure of a probe (not a decline); the instance stays unbound
     */
    private MdevDriver probe(MdevInstance instance, List<MdevDriver> candidates) throws MdevException {
        for (MdevDriver driver : candidates) {
            try {
                driver.probe(instance);
            } catch (MdevException e) {
                if (e.errno() == Errno.ENODEV) {
                    LOG.debug("{}: driver {} declined: {}", instance.uuid(), driver.name(), e.getMessage());
                    continue;
                }
                throw new MdevException(e.errno(), e.field().orElse(null),
                        "driver " + driver.name() + " failed to bind: " + e.getMessage(), e);
            } catch (Exception | LinkageError | AssertionError e) {
                String message = "driver " + driver.name() + " failed to bind: " + e;
                LOG.warn("{}: {}", instance.uuid(), message, e);
                throw new MdevException(Errno.EIO, null, message, e);
            }
            instance.bound(driver);
            return driver;
        }
        return null;
    }

    /** {@link #probe}, with a {@code failed} event if a probe fails; a bound instance gets its event. */
    private MdevDriver probeOrFail(MdevInstance instance, List<MdevDriver> candidates) throws MdevException {
        MdevDriver driver;
        try {
            driver = probe(instance, candidates);
        } catch (MdevException e) {
            failed(instance, null, e.getMessage());
            throw e;
        }
        if (driver != null) {
            emit(MdevEvent.Kind.BOUND, instance, driver.name(), null);
        }
        return driver;
    }

    private void unbindLocked(MdevInstance instance) {
        MdevDriver driver = instance.driver().orElseThrow();
        try {
            driver.remove(instance);
        } catch (Exception | LinkageError | AssertionError e) {
            LOG.warn("{}: driver {} failed to let go of the instance; unbinding it anyway", instance.uuid(),
                    driver.name(), e);
        }
        instance.unbound();
        emit(MdevEvent.Kind.UNBOUND, instance, driver.name(), null);
    }

    private static void requireUnbound(MdevInstance instance) throws MdevException {
        MdevDriver current = instance.driver().orElse(null);
        if (current != null) {
            throw MdevException.busy("uuid", "instance " + instance.uuid() + " is already bound to " + current.name()
                    + "; unbind it first, or rebind it");
        }
    }

    // ---------------------------------------------------------------- lookups

    private RegisteredParent parentOrThrow(String name) throws MdevException {
        RegisteredParent registered = name == null ? null : parents.get(name);
        if (registered == null) {
            throw MdevException.notFound("parent", "no parent '" + name + "' is registered; "
                    + (parents.isEmpty() ? "none are" : "registered parents: " + String.join(", ", parents.keySet())));
        }
        return registered;
    }

    private static TypeSlot typeOrThrow(RegisteredParent registered, String type) throws MdevException {
        TypeSlot slot = type == null ? null : registered.types().get(type);
        if (slot == null) {
            throw MdevException.notFound("type", "parent " + registered.parent().name() + " has no type '" + type
                    + "'; its types: " + (registered.types().isEmpty() ? "none"
                            : String.join(", ", registered.types().keySet())));
        }
        return slot;
    }

    private TypeSlot slotOf(MdevInstance instance) {
        return parents.get(instance.parent().name()).types().get(instance.type().name());
    }

    private MdevInstance instanceOrThrow(UUID uuid) throws MdevException {
        MdevInstance instance = uuid == null ? null : instances.get(uuid);
        if (instance == null) {
            throw MdevException.notFound("uuid", "no instance " + uuid + " is on the bus");
        }
        return instance;
    }

    private static void checkDriverName(String name) throws MdevException {
        if (!DRIVER_NAME.matcher(name).matches()) {
            throw MdevException.invalid("driver", "a driver name is 1-64 letters, digits, '_', '-' or '.': '" + name + "'");
        }
    }

    private String driverNames() {
        return drivers.isEmpty() ? "none are" : "registered drivers: " + String.join(", ", drivers.keySet());
    }

    private static String apis(MdevDriver driver) {
        return driver.deviceApis().stream().map(DeviceApi::name).sorted().collect(Collectors.joining(", "));
    }

    private List<MdevInstance> oldestFirst() {
        List<MdevInstance> list = new ArrayList<>(instances.values());
        list.sort(Comparator.comparingLong(i -> i.sequence));
        return list;
    }

    private List<MdevInstance> newestFirst() {
        List<MdevInstance> list = oldestFirst();
        Collections.reverse(list);
        return list;
    }

    // ---------------------------------------------------------------- queries (no lock)

    public Optional<MdevInstance> instance(UUID uuid) {
        return Optional.ofNullable(instances.get(uuid));
    }

    /** Every instance, oldest first. */
    public List<MdevInstance> instances() {
        return Collections.unmodifiableList(oldestFirst());
    }

    public int instanceCount() {
        return instances.size();
    }

    /** The registered parents, in registration order. */
    public List<ParentDevice> parents() {
        return parents.values().stream().map(RegisteredParent::parent).toList();
    }

    public Optional<ParentDevice> parent(String name) {
        return Optional.ofNullable(parents.get(name)).map(RegisteredParent::parent);
    }

    /** The types of a registered parent, as read at registration. */
    public List<MdevType> types(String parent) throws MdevException {
        return parentOrThrow(parent).types().values().stream().map(s -> s.type).toList();
    }

    /** How many more instances of the type may be created now (the kernel's available_instances). */
    public int availableInstances(String parent, String type) throws MdevException {
        return Math.max(0, typeOrThrow(parentOrThrow(parent), type).available());
    }

    /** The registered drivers, in registration order (the order matching tries them). */
    public List<MdevDriver> drivers() {
        return List.copyOf(drivers.values());
    }

    public Optional<MdevDriver> driver(String name) {
        return Optional.ofNullable(drivers.get(name));
    }

    // ---------------------------------------------------------------- events

    /** Delivers the bus's events to {@code listener} until the subscription is closed. */
    public Subscription subscribe(MdevListener listener) {
        Objects.requireNonNull(listener, "listener");
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    private void emit(MdevEvent.Kind kind, MdevInstance instance, String driver, String detail) {
        queue(new MdevEvent(kind, instance.uuid(), instance.parent().name(), instance.type().name(), driver, detail));
    }

    private void failed(MdevInstance instance, String driver, String detail) {
        emit(MdevEvent.Kind.FAILED, instance, driver, detail);
    }

    private void failed(UUID uuid, String parent, String type, String driver, String detail) {
        queue(new MdevEvent(MdevEvent.Kind.FAILED, uuid, parent, type, driver, detail));
    }

    private void queue(MdevEvent event) {
        LOG.debug("{}", event);
        pending.add(event);
    }

    /**
     * Delivers queued events in order. Not while this thread holds the management lock (a parent or
     * driver calling back into the bus), nor from inside a listener: the outer delivery picks them up.
     */
    private void deliver() {
        if (pending.isEmpty() || lock.isHeldByCurrentThread() || delivery.isHeldByCurrentThread()) {
            return;
        }
        delivery.lock();
        try {
            MdevEvent event;
            while ((event = pending.poll()) != null) {
                for (MdevListener listener : listeners) {
                    try {
                        listener.onEvent(event);
                    } catch (RuntimeException e) {
                        LOG.warn("an event listener failed on '{}'", event, e);
                    }
                }
            }
        } finally {
            delivery.unlock();
        }
    }

    // ---------------------------------------------------------------- shutdown

    /**
     * Removes every instance, newest first (each unbound, then released by its parent), and refuses
     * management from then on. Parents and drivers stay registered for queries.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            for (MdevInstance instance : newestFirst()) {
                removeLocked(instance);
            }
            closed = true;
        } finally {
            lock.unlock();
            deliver();
        }
    }
}

package io.umdev.virtio.transport;

import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.MdevDevice;
import io.umdev.virtio.ring.DescriptorChain;
import io.umdev.virtio.ring.PackedVirtqueue;
import io.umdev.virtio.ring.QueueCounters;
import io.umdev.virtio.ring.SplitVirtqueue;
import io.umdev.virtio.ring.Virtqueue;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.PackedRing;
import io.umdev.virtio.spec.SplitRing;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.vfiouser.dma.MemoryFault;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared core of software virtio parents (the analogue of vdpa_sim's core): the status state
 * machine, feature negotiation, queue registers and state, suspend/resume, queue groups and address
 * spaces, NEEDS_RESET, statistics, and one worker thread that runs the virtqueue engine of each
 * kicked queue and hands every available buffer to the subclass's {@link RequestHandler}.
 *
 * <p>A subclass supplies a {@link Definition} (device ID, features, queue count and size, config size),
 * fills config space with {@link #updateConfig}, may refuse features in {@link #validateFeatures}, and
 * returns a handler per queue from {@link #requestHandler(int)}. Hooks {@link #onStart()},
 * {@link #onStop()} and {@link #onReset()} run on the control path. Work arriving from outside the
 * driver's kicks (a frame for a receive queue) is announced with {@link #requestService(int)}; a driver
 * breaking the rules with {@link #needsReset(String)}.
 *
 * <p>Threads: control methods and one queue pass (one drain of at most a queue's size of buffers)
 * exclude each other through one lock, so a control call waits at most for one pass and the data path
 * takes the lock once per pass, never per buffer. Kicks only set a bit and wake the worker. With
 * {@link #setPollLimit polling} on, the worker watches recently busy rings for a while before it sleeps.
 */
public abstract class SoftwareVirtioDevice implements VirtioDevice, MdevDevice, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SoftwareVirtioDevice.class);

    /** Transport features the engine implements; {@link Definition#of} offers them all. */
    public static final long ENGINE_FEATURES = VirtioFeature.bits(VirtioFeature.VERSION_1,
            VirtioFeature.ACCESS_PLATFORM, VirtioFeature.RING_INDIRECT_DESC, VirtioFeature.RING_EVENT_IDX,
            VirtioFeature.RING_PACKED, VirtioFeature.IN_ORDER);

    /** Status bits only the driver sets (and only a reset clears). */
    private static final int DRIVER_BITS = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK
            | DeviceStatus.DRIVER_OK | DeviceStatus.FAILED;
    private static final int BITS_PER_WORD = Long.SIZE;
    private static final long JOIN_MILLIS = TimeUnit.SECONDS.toMillis(5);
    /** How soon a queue whose rings are being remapped is tried again. */
    private static final long MEMORY_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    /**
     * What a device is.
     *
     * @param name for logs and the worker thread, e.g. {@code sim-blk/<uuid>}
     * @param deviceId the virtio device ID
     * @param vendorId the vendor ID reported
     * @param features every feature offered, transport and device-class
     * @param queueCount number of virtqueues
     * @param queueMaxSize largest queue size (a power of two, at most 32768)
     * @param configSize bytes of device config space
     * @param queueGroupCount number of queue groups (see {@link #queueGroup(int)})
     * @param addressSpaceCount number of address spaces (1 = the instance's DMA table only)
     */
    public record Definition(String name, int deviceId, int vendorId, long features, int queueCount, int queueMaxSize,
            int configSize, int queueGroupCount, int addressSpaceCount) {
        public Definition {
            Objects.requireNonNull(name, "name");
            if (deviceId == VirtioId.INVALID) {
                throw new IllegalArgumentException("device ID 0 is reserved");
            }
            if (queueCount < 1) {
                throw new IllegalArgumentException("a device needs at least one queue");
            }
            if (!SplitRing.validSize(queueMaxSize)) {
                throw new IllegalArgumentException("queue size must be a power of two up to 32768: " + queueMaxSize);
            }
            if (configSize < 0 || queueGroupCount < 1 || addressSpaceCount < 1) {
                throw new IllegalArgumentException("bad config size, group or address space count");
            }
            if (!VirtioFeature.has(features, VirtioFeature.VERSION_1)) {
                throw new IllegalArgumentException("a software device is modern: it must offer VERSION_1");
            }
        }

        /** A device with one queue group and one address space, offering {@link #ENGINE_FEATURES} plus {@code classFeatures}. */
        public static Definition of(String name, int deviceId, long classFeatures, int queueCount, int queueMaxSize,
                int configSize) {
            return new Definition(name, deviceId, VirtioId.PCI_VENDOR, classFeatures | ENGINE_FEATURES, queueCount,
                    queueMaxSize, configSize, 1, 1);
        }

        public Definition withGroups(int groups, int addressSpaces) {
            return new Definition(name, deviceId, vendorId, features, queueCount, queueMaxSize, configSize, groups,
                    addressSpaces);
        }

        public Definition withFeatures(long allFeatures) {
            return new Definition(name, deviceId, vendorId, allFeatures, queueCount, queueMaxSize, configSize,
                    queueGroupCount, addressSpaceCount);
        }
    }

    /** The registers and engine of one queue. Guarded by {@link #lock}. */
    private static final class Queue {
        final QueueCounters counters = new QueueCounters();
        int size;
        long desc;
        long driver;
        long device;
        boolean ready;
        volatile QueueInterrupt interrupt = QueueInterrupt.NONE;
        /** The position while no engine runs the queue; null = the initial one. */
        QueueState state;
        Virtqueue engine;
        RequestHandler handler;
        // Polling (see Polling), worker thread only:
        /** How long the worker watches the ring after a pass that emptied it; 0: it waits for a kick. */
        long pollWindow;
        /** When the current poll gives up (while the queue is in {@link #polling}). */
        long pollDeadline;
        /** When a pass last ended: a kick this soon after it means polling would have caught the buffer. */
        long lastPass;
    }

    private final Definition definition;
    private final ReentrantLock lock = new ReentrantLock();
    private final Queue[] queues;
    private final DmaTable[] addressSpaces;
    private final int[] groupAsid;
    private final AtomicLongArray pending;
    /** Queues whose rings were found unmapped mid-remap; worker thread only. */
    private final AtomicLongArray retry;
    private boolean retryPending;
    /** When the queues waiting for memory are tried again (worker thread). */
    private long retryAt;
    /** Queues being polled, with the driver's notifications off: one bit per queue, worker thread only. */
    private final long[] polling;
    /** The longest poll window, {@link Polling}; 0: no polling. */
    private volatile long pollLimitNanos;
    private final MemorySegment config;
    private final Object configLock = new Object();
    /** Made at the first DRIVER_OK, so that an instance no driver ever starts costs no thread. */
    private volatile Thread worker;

    /** {@link #statistics()} key: the device status byte as the driver would read it. */
    public static final String STAT_STATUS = "device.status";
    /** {@link #statistics()} key: how many times the device went NEEDS_RESET since it was made. */
    public static final String STAT_NEEDS_RESET = "device.needs_reset";

    private volatile int status;
    private volatile long driverFeatures;
    private volatile int configGeneration;
    private volatile Runnable configListener;
    private volatile boolean sleeping;
    private volatile boolean closed;
    private boolean running;
    private boolean suspended;
    private DirtyLog dirtyLog;
    private String resetReason;
    /** Times the device went NEEDS_RESET: stays visible after the reset that recovers it. Under {@code lock}. */
    private long needsResetCount;

    /**
     * @param dmaTable the instance's DMA context ({@code InstanceContext.dmaTable()}): address space 0
     */
    protected SoftwareVirtioDevice(Definition definition, DmaTable dmaTable) {
        this.definition = Objects.requireNonNull(definition, "definition");
        Objects.requireNonNull(dmaTable, "dmaTable");
        this.queues = new Queue[definition.queueCount()];
        for (int q = 0; q < queues.length; q++) {
            queues[q] = new Queue();
            queues[q].size = definition.queueMaxSize();
        }
        this.addressSpaces = new DmaTable[definition.addressSpaceCount()];
        addressSpaces[0] = dmaTable;
        for (int a = 1; a < addressSpaces.length; a++) {
            addressSpaces[a] = new DmaTable(dmaTable.maxMappings());
        }
        this.groupAsid = new int[definition.queueGroupCount()];
        this.pending = new AtomicLongArray((queues.length + BITS_PER_WORD - 1) / BITS_PER_WORD);
        this.retry = new AtomicLongArray(pending.length());
        this.polling = new long[pending.length()];
        this.config = MemorySegment.ofArray(new byte[definition.configSize()]);
    }

    // ---- What a subclass supplies ----

    /**
     * The handler for queue {@code q}, asked when the device starts (DRIVER_OK). Called with the device
     * lock held; it may depend on the negotiated features ({@link #driverFeatures()}).
     */
    protected abstract RequestHandler requestHandler(int q);

    /**
     * Checks the features the driver accepted when it sets FEATURES_OK; throw {@link VirtioException}
     * with the reason to refuse (FEATURES_OK then stays clear). The base has already checked they are a
     * subset of the offer and include VERSION_1. The default accepts.
     */
    protected void validateFeatures(long features) {
    }

    /** The driver set DRIVER_OK; queues start right after. Device lock held. */
    protected void onStart() {
    }

    /** The data path stopped (reset, FAILED, NEEDS_RESET). Device lock held. */
    protected void onStop() {
    }

    /** The device was reset; put device-class state back to its initial values. Device lock held. */
    protected void onReset() {
    }

    /**
     * The driver wrote config space (already copied nowhere): apply what is writable (e.g. virtio-blk's
     * writeback byte) with {@link #updateConfig}. The default ignores writes: config space is read-only.
     */
    protected void configWritten(int offset, MemorySegment src) {
        LOG.debug("{}: ignoring a {}-byte write to read-only config space at {}", definition.name(), src.byteSize(),
                offset);
    }

    // ---- What a subclass calls ----

    /**
     * Changes config space: {@code change} edits the segment; then the generation moves on and the
     * config-change listener is told. Any thread.
     */
    protected final void updateConfig(Consumer<MemorySegment> change) {
        synchronized (configLock) {
            change.accept(config);
            configGeneration = configGeneration + 1;
        }
        Runnable l = configListener;
        if (l != null) {
            l.run();
        }
    }

    /**
     * Sets the longest window for which the worker polls a queue's ring after emptying it ({@link Polling});
     * zero turns polling off. Any thread; takes effect at the next pass.
     */
    public final void setPollLimit(Duration limit) {
        if (limit.isNegative()) {
            throw new IllegalArgumentException("negative poll limit: " + limit);
        }
        pollLimitNanos = limit.toNanos();
    }

    /** The longest poll window, {@link Duration#ZERO} when polling is off. */
    public final Duration pollLimit() {
        return Duration.ofNanos(pollLimitNanos);
    }

    /** Asks the worker to service queue {@code q} (new data for it arrived); any thread, never blocks. */
    public final void requestService(int q) {
        if (q >= 0 && q < queues.length) {
            markPending(q);
        }
    }

    /**
     * The driver broke the rules (or the device cannot go on): logs {@code why}, sets NEEDS_RESET, stops
     * every queue and raises a config interrupt. Only a reset recovers. Any thread; idempotent.
     */
    public final void needsReset(String why) {
        lock.lock();
        try {
            if ((status & DeviceStatus.NEEDS_RESET) != 0) {
                LOG.debug("{}: already needs a reset; also: {}", definition.name(), why);
                return;
            }
            LOG.warn("{}: device needs reset: {}", definition.name(), why);
            resetReason = why;
            needsResetCount++;
            status = status | DeviceStatus.NEEDS_RESET;
            stopDataPath();
        } finally {
            lock.unlock();
        }
        Runnable l = configListener;
        if (l != null) {
            l.run();
        }
    }

    /** Why the device last went NEEDS_RESET, or null (cleared by reset). */
    public final String needsResetReason() {
        lock.lock();
        try {
            return resetReason;
        } finally {
            lock.unlock();
        }
    }

    /** The live counters of queue {@code q}, for a handler to count drops and errors. */
    protected final QueueCounters counters(int q) {
        return queues[checkQueue(q)].counters;
    }

    /** The definition this device was made with. */
    public final Definition definition() {
        return definition;
    }

    /** Whether DRIVER_OK is set and the data path runs (not suspended, not NEEDS_RESET). */
    public final boolean isRunning() {
        lock.lock();
        try {
            return running && !suspended;
        } finally {
            lock.unlock();
        }
    }

    // ---- VirtioDevice ----

    @Override
    public DeviceApi deviceApi() {
        return DeviceApi.VIRTIO;
    }

    @Override
    public int deviceId() {
        return definition.deviceId();
    }

    @Override
    public int vendorId() {
        return definition.vendorId();
    }

    @Override
    public long deviceFeatures() {
        return definition.features();
    }

    @Override
    public void setDriverFeatures(long features) {
        lock.lock();
        try {
            if ((status & DeviceStatus.FEATURES_OK) != 0) {
                throw VirtioException.busy("features are fixed once FEATURES_OK is set");
            }
            driverFeatures = features;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public long driverFeatures() {
        return driverFeatures;
    }

    @Override
    public int status() {
        return status;
    }

    @Override
    public void setStatus(int newStatus) {
        if (newStatus == DeviceStatus.RESET) {
            reset();
            return;
        }
        lock.lock();
        try {
            int old = status;
            int wanted = newStatus & DRIVER_BITS;
            if ((old & DRIVER_BITS & ~wanted) != 0) {
                throw VirtioException.invalid(String.format("status %s would clear bits of %s; only a reset does that",
                        DeviceStatus.describe(newStatus), DeviceStatus.describe(old)));
            }
            int added = wanted & ~old;
            int next = old | added;
            if ((added & DeviceStatus.FEATURES_OK) != 0 && !acceptFeatures()) {
                next &= ~DeviceStatus.FEATURES_OK;
            }
            if ((added & DeviceStatus.DRIVER_OK) != 0 && (next & DeviceStatus.FEATURES_OK) == 0) {
                LOG.warn("{}: DRIVER_OK without FEATURES_OK; not starting", definition.name());
                next &= ~DeviceStatus.DRIVER_OK;
            }
            status = next;
            if ((added & DeviceStatus.FAILED) != 0) {
                LOG.info("{}: the driver gave up (FAILED)", definition.name());
                stopDataPath();
            } else if ((next & DeviceStatus.DRIVER_OK) != 0 && (added & DeviceStatus.DRIVER_OK) != 0
                    && (next & DeviceStatus.NEEDS_RESET) == 0) {
                startDataPath();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Checks the driver's features at FEATURES_OK; false (logged) to refuse. Lock held. */
    private boolean acceptFeatures() {
        long f = driverFeatures;
        String refusal = null;
        if ((f & ~definition.features()) != 0) {
            refusal = "features " + VirtioFeature.describe(f & ~definition.features()) + " were not offered";
        } else if (!VirtioFeature.has(f, VirtioFeature.VERSION_1)) {
            refusal = "VERSION_1 is required (no legacy interface)";
        } else {
            try {
                validateFeatures(f);
            } catch (VirtioException e) {
                refusal = e.getMessage();
            }
        }
        if (refusal != null) {
            LOG.warn("{}: refusing features {}: {}", definition.name(), VirtioFeature.describe(f), refusal);
            return false;
        }
        boolean packed = VirtioFeature.has(f, VirtioFeature.RING_PACKED);
        for (int q = 0; q < queues.length; q++) {
            Queue queue = queues[q];
            if (queue.engine == null || queue.engine.isPacked() != packed) {
                int index = q;
                queue.engine = Virtqueue.create(packed, q, definition.queueMaxSize(), queue.counters,
                        (vq, reason) -> queueFault(index, reason));
            }
            if (queue.state != null && (queue.state instanceof PackedQueueState) != packed) {
                queue.state = null;
            }
        }
        return true;
    }

    private void queueFault(int q, String reason) {
        needsReset("queue " + q + ": " + reason);
    }

    /** DRIVER_OK: ask the subclass for handlers, start the ready queues. Lock held. */
    private void startDataPath() {
        if (worker == null && !closed) {
            Thread t = Thread.ofPlatform().daemon().name("virtio-" + definition.name()).unstarted(this::work);
            worker = t;
            t.start();
        }
        running = true;
        try {
            onStart();
            for (int q = 0; q < queues.length; q++) {
                queues[q].handler = Objects.requireNonNull(requestHandler(q), "requestHandler");
            }
        } catch (RuntimeException e) {
            running = false;
            LOG.error("{}: starting failed", definition.name(), e);
            status = status | DeviceStatus.NEEDS_RESET;
            resetReason = "device start failed: " + e;
            needsResetCount++;
            return;
        }
        for (int q = 0; q < queues.length && running; q++) {
            if (queues[q].ready) {
                startQueue(q);
            }
        }
    }

    /** Programs and activates queue q's engine from its registers and saved state. Lock held, running. */
    private void startQueue(int q) {
        Queue queue = queues[q];
        Virtqueue vq = queue.engine;
        vq.configure(addressSpaces[groupAsid[queueGroup(q)]], queue.size, queue.desc, queue.driver, queue.device,
                driverFeatures);
        restoreState(vq, queue.state);
        vq.setDirtyLog(dirtyLog);
        if (vq.activate()) {
            markPending(q);
        }
    }

    private static void restoreState(Virtqueue vq, QueueState state) {
        switch (vq) {
            case SplitVirtqueue split -> split.setAvailIndex(state instanceof SplitQueueState s ? s.availIndex() : 0);
            case PackedVirtqueue packed -> {
                PackedQueueState s = state instanceof PackedQueueState p ? p : PackedQueueState.initial();
                packed.setState(s.lastAvailIndex(), s.lastAvailWrap(), s.lastUsedIndex(), s.lastUsedWrap());
            }
        }
    }

    private static QueueState captureState(Virtqueue vq) {
        return switch (vq) {
            case SplitVirtqueue split -> new SplitQueueState(split.availIndex());
            case PackedVirtqueue packed -> new PackedQueueState(packed.lastAvailIndex(), packed.lastAvailWrap(),
                    packed.lastUsedIndex(), packed.lastUsedWrap());
        };
    }

    /** Stops queue q's engine, keeping its position. Lock held. */
    private void stopQueue(int q) {
        Queue queue = queues[q];
        Virtqueue vq = queue.engine;
        if (vq != null && vq.isActive()) {
            queue.state = captureState(vq);
            vq.deactivate();
        }
    }

    /** Stops every queue and tells the subclass. Lock held. */
    private void stopDataPath() {
        for (int q = 0; q < queues.length; q++) {
            stopQueue(q);
        }
        if (running) {
            running = false;
            try {
                onStop();
            } catch (RuntimeException e) {
                LOG.error("{}: onStop failed", definition.name(), e);
            }
        }
    }

    @Override
    public void reset() {
        lock.lock();
        try {
            stopDataPath();
            status = DeviceStatus.RESET;
            driverFeatures = 0;
            suspended = false;
            resetReason = null;
            for (Queue queue : queues) {
                queue.size = definition.queueMaxSize();
                queue.desc = 0;
                queue.driver = 0;
                queue.device = 0;
                queue.ready = false;
                queue.interrupt = QueueInterrupt.NONE;
                queue.state = null;
                queue.handler = null;
                if (queue.engine != null) {
                    queue.engine.resetState();
                }
            }
            Arrays.fill(groupAsid, 0);
            onReset();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int configSize() {
        return definition.configSize();
    }

    private void checkConfigRange(int offset, long length) {
        if (offset < 0 || length < 0 || offset + length > definition.configSize()) {
            throw VirtioException.invalid(String.format("config access [%d, +%d) outside the %d-byte config space",
                    offset, length, definition.configSize()));
        }
    }

    @Override
    public void readConfig(int offset, MemorySegment dst) {
        checkConfigRange(offset, dst.byteSize());
        synchronized (configLock) {
            MemorySegment.copy(config, offset, dst, 0, dst.byteSize());
        }
    }

    @Override
    public void writeConfig(int offset, MemorySegment src) {
        checkConfigRange(offset, src.byteSize());
        configWritten(offset, src);
    }

    @Override
    public int configGeneration() {
        return configGeneration;
    }

    @Override
    public void setConfigChangeListener(Runnable listener) {
        this.configListener = listener;
    }

    @Override
    public int queueCount() {
        return queues.length;
    }

    private int checkQueue(int q) {
        if (q < 0 || q >= queues.length) {
            throw VirtioException.invalid("no queue " + q + " (the device has " + queues.length + ")");
        }
        return q;
    }

    @Override
    public int queueMaxSize(int q) {
        checkQueue(q);
        return definition.queueMaxSize();
    }

    @Override
    public int queueMinSize(int q) {
        checkQueue(q);
        return 1;
    }

    /** Whether queue q's registers may change now. Lock held. */
    private void checkQueueIdle(int q, String what) {
        if (queues[q].ready && running && !suspended) {
            throw VirtioException.busy("cannot change the " + what + " of queue " + q + " while it runs");
        }
    }

    @Override
    public void setQueueSize(int q, int size) {
        checkQueue(q);
        if (size < 1 || size > definition.queueMaxSize()) {
            throw VirtioException.invalid("queue size " + size + " is outside 1.." + definition.queueMaxSize());
        }
        lock.lock();
        try {
            checkQueueIdle(q, "size");
            queues[q].size = size;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void setQueueAddress(int q, long desc, long driver, long device) {
        checkQueue(q);
        lock.lock();
        try {
            checkQueueIdle(q, "address");
            Queue queue = queues[q];
            queue.desc = desc;
            queue.driver = driver;
            queue.device = device;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void setQueueReady(int q, boolean ready) {
        checkQueue(q);
        lock.lock();
        try {
            Queue queue = queues[q];
            if (queue.ready == ready) {
                return;
            }
            queue.ready = ready;
            if (!running) {
                return;
            }
            if (ready) {
                startQueue(q);
            } else {
                stopQueue(q);
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean queueReady(int q) {
        checkQueue(q);
        lock.lock();
        try {
            return queues[q].ready;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public QueueState queueState(int q) {
        checkQueue(q);
        lock.lock();
        try {
            Queue queue = queues[q];
            if (queue.engine != null && queue.engine.isActive()) {
                return captureState(queue.engine);
            }
            if (queue.state != null) {
                return queue.state;
            }
            return VirtioFeature.has(driverFeatures, VirtioFeature.RING_PACKED) ? PackedQueueState.initial()
                    : new SplitQueueState(0);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void setQueueState(int q, QueueState state) {
        checkQueue(q);
        Objects.requireNonNull(state, "state");
        lock.lock();
        try {
            boolean packed = VirtioFeature.has(driverFeatures, VirtioFeature.RING_PACKED);
            if ((state instanceof PackedQueueState) != packed) {
                throw VirtioException.invalid("queue " + q + " is " + (packed ? "packed" : "split") + "; got " + state);
            }
            Queue queue = queues[q];
            if (queue.engine != null && queue.engine.isActive()) {
                if (!suspended) {
                    throw VirtioException.busy("cannot set the state of queue " + q + " while it runs");
                }
                restoreState(queue.engine, state);
            }
            queue.state = state;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void kick(int q) {
        if (q < 0 || q >= queues.length) {
            return;
        }
        queues[q].counters.kick();
        markPending(q);
    }

    @Override
    public void setQueueInterrupt(int q, QueueInterrupt interrupt) {
        checkQueue(q);
        queues[q].interrupt = interrupt == null ? QueueInterrupt.NONE : interrupt;
    }

    @Override
    public void suspend() {
        lock.lock();
        try {
            // The worker is outside any pass (we hold the lock) and every pass publishes as it ends.
            suspended = true;
            // A polled ring has the driver's notifications off: whoever runs the queue next expects them on.
            for (Queue queue : queues) {
                Virtqueue vq = queue.engine;
                if (vq != null && vq.begin()) {
                    try {
                        vq.enableNotifications();
                    } finally {
                        vq.end();
                    }
                }
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void resume() {
        lock.lock();
        try {
            if (!suspended) {
                return;
            }
            suspended = false;
            for (int q = 0; q < queues.length; q++) {
                if (queues[q].ready) {
                    markPending(q);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** Whether the device is suspended. */
    public final boolean isSuspended() {
        lock.lock();
        try {
            return suspended;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int queueGroupCount() {
        return definition.queueGroupCount();
    }

    /** Group of queue q; the default puts every queue in group 0. Override to separate e.g. a control queue. */
    @Override
    public int queueGroup(int q) {
        checkQueue(q);
        return 0;
    }

    @Override
    public int addressSpaceCount() {
        return addressSpaces.length;
    }

    @Override
    public void setGroupAddressSpace(int group, int asid) {
        if (group < 0 || group >= groupAsid.length) {
            throw VirtioException.invalid("no queue group " + group);
        }
        if (asid < 0 || asid >= addressSpaces.length) {
            throw VirtioException.invalid("no address space " + asid);
        }
        lock.lock();
        try {
            if ((status & DeviceStatus.DRIVER_OK) != 0) {
                throw VirtioException.busy("address spaces are fixed after DRIVER_OK");
            }
            groupAsid[group] = asid;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public DmaTable addressSpace(int asid) {
        if (asid < 0 || asid >= addressSpaces.length) {
            throw VirtioException.invalid("no address space " + asid);
        }
        return addressSpaces[asid];
    }

    @Override
    public void setDirtyLog(DirtyLog log) {
        lock.lock();
        try {
            dirtyLog = log;
            for (Queue queue : queues) {
                if (queue.engine != null) {
                    queue.engine.setDirtyLog(log);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The device's own counters, {@link #STAT_STATUS} and {@link #STAT_NEEDS_RESET}, for a subclass that
     * builds its own {@link #statistics()}; a new mutable map.
     */
    protected final Map<String, Long> deviceStatistics() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put(STAT_STATUS, (long) status);
        lock.lock();
        try {
            m.put(STAT_NEEDS_RESET, needsResetCount);
        } finally {
            lock.unlock();
        }
        return m;
    }

    @Override
    public QueueStatistics queueStatistics(int q) {
        return QueueStatistics.of(queues[checkQueue(q)].counters);
    }

    @Override
    public Map<String, Long> statistics() {
        Map<String, Long> m = deviceStatistics();
        for (int q = 0; q < queues.length; q++) {
            m.putAll(queueStatistics(q).asMap("q" + q + "."));
        }
        return m;
    }

    /** Stops the worker thread and the data path. The device cannot be used afterwards. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            stopDataPath();
        } finally {
            lock.unlock();
        }
        Thread t = worker;
        if (t != null && Thread.currentThread() != t) {
            LockSupport.unpark(t);
            try {
                t.join(JOIN_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (int a = 1; a < addressSpaces.length; a++) {
            addressSpaces[a].close();
        }
    }

    // ---- The worker ----

    private void markPending(int q) {
        int w = q / BITS_PER_WORD;
        long bit = 1L << (q % BITS_PER_WORD);
        if ((pending.get(w) & bit) == 0) {
            pending.accumulateAndGet(w, bit, (a, b) -> a | b);
        }
        if (sleeping) {
            LockSupport.unpark(worker);
        }
    }

    /** Queue q's rings are not mapped right now (a remap in progress): service it again after a short wait. */
    private void markRetry(int q) {
        retry.accumulateAndGet(q / BITS_PER_WORD, 1L << (q % BITS_PER_WORD), (a, b) -> a | b);
        if (!retryPending) {
            retryPending = true;
            retryAt = System.nanoTime() + MEMORY_RETRY_NANOS;
        }
    }

    /** Moves the queues waiting for memory back to pending (worker thread, after its timed park). */
    private void retryLater() {
        if (!retryPending) {
            return;
        }
        retryPending = false;
        for (int w = 0; w < retry.length(); w++) {
            long bits = retry.getAndSet(w, 0);
            if (bits != 0) {
                pending.accumulateAndGet(w, bits, (a, b) -> a | b);
            }
        }
    }

    private boolean anyPending() {
        for (int w = 0; w < pending.length(); w++) {
            if (pending.get(w) != 0) {
                return true;
            }
        }
        return false;
    }

    private void work() {
        while (!closed) {
            boolean worked = false;
            for (int w = 0; w < pending.length(); w++) {
                long bits = pending.getAndSet(w, 0);
                while (bits != 0) {
                    int q = w * BITS_PER_WORD + Long.numberOfTrailingZeros(bits);
                    bits &= bits - 1;
                    if (!isPolling(q)) {
                        growPollWindow(queues[q]);
                    }
                    service(q);
                    worked = true;
                }
            }
            if (!worked && anyPolling()) {
                pollQueues();
                if (retryPending && System.nanoTime() - retryAt >= 0) {
                    retryLater();
                }
                // Give way to any runnable thread: on a small host the driver's vCPU may need this CPU.
                Thread.yield();
                continue;
            }
            if (!worked) {
                sleeping = true;
                if (!anyPending() && !closed) {
                    if (retryPending) {
                        LockSupport.parkNanos(this, MEMORY_RETRY_NANOS);
                    } else {
                        LockSupport.park(this);
                    }
                }
                sleeping = false;
                retryLater();
            }
        }
    }

    // ---- Polling (worker thread) ----

    private boolean isPolling(int q) {
        return (polling[q / BITS_PER_WORD] & (1L << (q % BITS_PER_WORD))) != 0;
    }

    private void setPolling(int q, boolean on) {
        long bit = 1L << (q % BITS_PER_WORD);
        polling[q / BITS_PER_WORD] = on ? polling[q / BITS_PER_WORD] | bit : polling[q / BITS_PER_WORD] & ~bit;
    }

    private boolean anyPolling() {
        for (long word : polling) {
            if (word != 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * A kick for a queue that was not being polled: if it came within the limit of the queue's last pass, a
     * window that long would have caught the buffer, so the window grows to twice the gap (at least double).
     */
    private void growPollWindow(Queue queue) {
        long limit = pollLimitNanos;
        if (limit == 0 || queue.lastPass == 0) {
            return;
        }
        long gap = System.nanoTime() - queue.lastPass;
        if (gap <= limit) {
            long grown = Math.max(Polling.GROW_START_NANOS, 2 * Math.max(queue.pollWindow, gap));
            queue.pollWindow = Math.min(limit, grown);
        }
    }

    /** Whether the data path may run queue's engine now. Device lock held. */
    private boolean runnable(Queue queue) {
        return running && !suspended && !closed && queue.ready && queue.engine != null;
    }

    /** One look at every polled queue: services those with buffers, lets those whose window ran out sleep. */
    private void pollQueues() {
        long now = System.nanoTime();
        for (int w = 0; w < polling.length; w++) {
            for (long bits = polling[w]; bits != 0; bits &= bits - 1) {
                int q = w * BITS_PER_WORD + Long.numberOfTrailingZeros(bits);
                if (peek(q, now - queues[q].pollDeadline >= 0)) {
                    service(q);
                }
            }
        }
    }

    /**
     * Whether polled queue q has buffers. When its window ran out, polling stops: the window halves, and
     * the driver's notifications come back on (true if buffers raced in meanwhile).
     */
    private boolean peek(int q, boolean expired) {
        lock.lock();
        try {
            Queue queue = queues[q];
            Virtqueue vq = queue.engine;
            if (!runnable(queue)) {
                // Reset, stop and suspend start the queue afresh with notifications on.
                setPolling(q, false);
                return false;
            }
            if (!vq.begin()) {
                setPolling(q, false);
                if (vq.awaitingMemory()) {
                    markRetry(q);
                }
                return false;
            }
            try {
                if (!expired) {
                    return vq.hasAvailable();
                }
                setPolling(q, false);
                queue.pollWindow /= 2;
                if (queue.pollWindow < Polling.MIN_WINDOW_NANOS) {
                    queue.pollWindow = 0;
                }
                return vq.enableNotifications();
            } finally {
                vq.end();
            }
        } catch (RuntimeException | InternalError e) {
            passFailed(q, e);
            setPolling(q, false);
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** One pass over queue q: drain up to a queue's worth of buffers, then interrupt if wanted. */
    private void service(int q) {
        Queue queue = queues[q];
        boolean poll = false;
        lock.lock();
        try {
            Virtqueue vq = queue.engine;
            if (!runnable(queue)) {
                return;
            }
            if (!vq.begin()) {
                if (vq.awaitingMemory()) {
                    markRetry(q); // its rings are being remapped: come back shortly, kick or not
                }
                return;
            }
            try {
                long window = Math.min(queue.pollWindow, pollLimitNanos);
                poll = drain(q, queue, vq, window >= Polling.MIN_WINDOW_NANOS);
                if (vq.isActive() && vq.needsInterrupt()) {
                    queue.counters.interrupt();
                    queue.interrupt.signal();
                }
            } finally {
                vq.end();
            }
        } catch (RuntimeException | InternalError e) {
            poll = false;
            passFailed(q, e);
        } finally {
            lock.unlock();
            queue.lastPass = System.nanoTime();
            if (poll) {
                queue.pollDeadline = queue.lastPass + Math.min(queue.pollWindow, pollLimitNanos);
            }
            setPolling(q, poll);
        }
    }

    /**
     * Contains what escaped a pass over queue q: a client whose memory faulted (the engine does not throw
     * on bad rings, but a shrunk file faults on access), or a device bug. Either way only this device
     * stops, in NEEDS_RESET, and the worker lives on.
     */
    private void passFailed(int q, Throwable e) {
        if (MemoryFault.is(e)) {
            needsReset("queue " + q + ": " + MemoryFault.describe(e));
            return;
        }
        needsReset("internal error servicing queue " + q + ": " + e);
        LOG.error("{}: queue {} pass failed", definition.name(), q, e);
    }

    /**
     * Pops and handles buffers until the ring is empty, the handler defers, or the budget is spent. Returns
     * true when it stopped at an empty ring and left the driver's notifications off because {@code poll}
     * asked for it: the caller then polls the ring.
     */
    private boolean drain(int q, Queue queue, Virtqueue vq, boolean poll) {
        RequestHandler handler = queue.handler;
        int budget = vq.size();
        vq.disableNotifications();
        while (true) {
            DescriptorChain chain = vq.pop();
            if (chain == null) {
                if (vq.isBroken()) {
                    return false;
                }
                if (poll) {
                    return true;
                }
                if (!vq.enableNotifications()) {
                    return false;
                }
                vq.disableNotifications();
                continue;
            }
            int written;
            try {
                written = handler.handle(chain);
            } catch (RuntimeException | InternalError e) {
                passFailed(q, e);
                return false;
            }
            if (!running || !vq.isActive()) {
                return false; // the handler found the device broken: nothing more is published
            }
            if (written == RequestHandler.DEFER) {
                vq.unpop(chain);
                vq.enableNotifications();
                return false;
            }
            if (written < 0 || written > chain.writableLength()) {
                needsReset(String.format("handler of queue %d reported %d bytes written into %d writable bytes", q,
                        written, chain.writableLength()));
                return false;
            }
            vq.push(chain, written);
            if (--budget == 0) {
                // Fairness: let other queues run, and come back with notifications still off.
                markPending(q);
                return false;
            }
        }
    }

    @Override
    public String toString() {
        return definition.name() + " (" + DeviceStatus.describe(status) + ")";
    }
}

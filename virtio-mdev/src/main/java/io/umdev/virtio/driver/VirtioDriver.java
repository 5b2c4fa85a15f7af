package io.umdev.virtio.driver;

import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.LinuxException;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.PackedRing;
import io.umdev.virtio.spec.SplitRing;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.transport.PackedQueueState;
import io.umdev.virtio.transport.QueueInterrupt;
import io.umdev.virtio.transport.VirtioDevice;
import io.umdev.virtio.transport.VirtioException;
import io.umdev.vfiouser.dma.DmaTable;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.IntConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The in-process virtio driver for any device behind the transport API, the userspace form of the
 * kernel's {@code virtio_vdpa}: it owns memory, maps it into the device's DMA context (address space 0)
 * and drives the device exactly as a guest driver would, through the status sequence, the feature
 * handshake, queue registers, doorbells and rings in that memory. It never calls a parent's internals.
 *
 * <p>Two steps: {@link #open} resets the device and negotiates features (ACKNOWLEDGE, DRIVER, features,
 * FEATURES_OK, checked to have stuck); then the device-class code reads the config space, reserves the
 * buffer memory it needs ({@link #reserve}) and calls {@link #start}, which maps the memory, sets the
 * queues up and sets DRIVER_OK. {@link #close} resets the device, unmaps the memory and closes the fds.
 * {@link VirtioNetPort} and {@link VirtioBlockDisk} are built on it; it drives other classes too.
 */
public final class VirtioDriver implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioDriver.class);

    /** Address space 0: the instance's own DMA context, where all queues start out. */
    private static final int DEFAULT_ADDRESS_SPACE = 0;
    /** How often a config read is retried while the device keeps changing it. */
    private static final int CONFIG_READ_ATTEMPTS = 64;

    private final VirtioDevice device;
    private final DriverOptions options;
    private final long features;
    private final boolean packed;
    private final MemoryPlan plan = new MemoryPlan();
    private DriverMemory memory;
    private DriverQueue[] queues = new DriverQueue[0];
    private EventFd[] interruptFds = new EventFd[0];
    private boolean closed;

    private VirtioDriver(VirtioDevice device, DriverOptions options, long features) {
        this.device = device;
        this.options = options;
        this.features = features;
        this.packed = VirtioFeature.has(features, VirtioFeature.RING_PACKED);
    }

    /**
     * Resets the device and negotiates: the driver accepts the offered features among
     * {@code wantedFeatures} (device-class bits) plus the transport bits it implements (VERSION_1,
     * ACCESS_PLATFORM, and per the options RING_PACKED, RING_EVENT_IDX, RING_INDIRECT_DESC).
     *
     * @throws VirtioDriverException ENODEV if the device is not a modern virtio device, EOPNOTSUPP if
     *     packed rings were required and not offered, EIO if the device refused the features
     */
    public static VirtioDriver open(VirtioDevice device, long wantedFeatures, DriverOptions options)
            throws VirtioDriverException {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(options, "options");
        try {
            return negotiate(device, wantedFeatures, options);
        } catch (VirtioException e) {
            resetQuietly(device);
            throw new VirtioDriverException(e.errno(), "opening the device: " + e.getMessage(), e);
        } catch (VirtioDriverException e) {
            resetQuietly(device);
            throw e;
        }
    }

    private static VirtioDriver negotiate(VirtioDevice device, long wanted, DriverOptions options)
            throws VirtioDriverException {
        if (device.deviceId() == 0) {
            throw new VirtioDriverException(Errno.ENODEV, "the device has virtio ID 0 (no device)");
        }
        device.reset();
        int status = DeviceStatus.ACKNOWLEDGE;
        device.setStatus(status);
        status |= DeviceStatus.DRIVER;
        device.setStatus(status);

        long offered = device.deviceFeatures();
        if (!VirtioFeature.has(offered, VirtioFeature.VERSION_1)) {
            throw new VirtioDriverException(Errno.ENODEV, "the device does not offer VERSION_1 (legacy devices "
                    + "are not supported): " + VirtioFeature.describe(offered));
        }
        long transport = VirtioFeature.bits(VirtioFeature.VERSION_1, VirtioFeature.ACCESS_PLATFORM);
        if (options.eventIndex()) {
            transport |= VirtioFeature.bit(VirtioFeature.RING_EVENT_IDX);
        }
        if (options.indirect()) {
            transport |= VirtioFeature.bit(VirtioFeature.RING_INDIRECT_DESC);
        }
        boolean packedOffered = VirtioFeature.has(offered, VirtioFeature.RING_PACKED);
        switch (options.ringLayout()) {
            case PACKED -> {
                if (!packedOffered) {
                    throw new VirtioDriverException(Errno.EOPNOTSUPP, "packed rings were asked for and the device "
                            + "does not offer RING_PACKED: " + VirtioFeature.describe(offered));
                }
                transport |= VirtioFeature.bit(VirtioFeature.RING_PACKED);
            }
            case AUTO -> transport |= VirtioFeature.bit(VirtioFeature.RING_PACKED);
            case SPLIT -> { }
        }
        long classBits = wanted & ~transportMask();
        long accepted = offered & (transport | classBits);
        device.setDriverFeatures(accepted);
        status |= DeviceStatus.FEATURES_OK;
        device.setStatus(status);
        int now = device.status();
        if (!DeviceStatus.has(now, DeviceStatus.FEATURES_OK)) {
            device.setStatus(now | DeviceStatus.FAILED);
            throw new VirtioDriverException(Errno.EIO, "the device refused features "
                    + VirtioFeature.describe(accepted) + " (status " + DeviceStatus.describe(now) + ")");
        }
        LOG.debug("negotiated {} with device {}", VirtioFeature.describe(accepted), device.deviceId());
        return new VirtioDriver(device, options, accepted);
    }

    private static long transportMask() {
        long mask = 0;
        for (int b = VirtioFeature.TRANSPORT_FIRST; b <= VirtioFeature.TRANSPORT_LAST; b++) {
            mask |= VirtioFeature.bit(b);
        }
        return mask;
    }

    public VirtioDevice device() {
        return device;
    }

    public DriverOptions options() {
        return options;
    }

    /** The features both sides agreed on. */
    public long features() {
        return features;
    }

    public boolean hasFeature(int bit) {
        return VirtioFeature.has(features, bit);
    }

    /** True if the queues are packed rings. */
    public boolean packed() {
        return packed;
    }

    /** The device's virtio ID ({@link io.umdev.virtio.spec.VirtioId}). */
    public int deviceId() {
        return device.deviceId();
    }

    /**
     * The whole device config space, read consistently (retried while the config generation changes
     * under the read). Control path: allocates.
     */
    public MemorySegment readConfig() throws VirtioDriverException {
        int size = device.configSize();
        MemorySegment copy = MemorySegment.ofArray(new byte[size]);
        for (int attempt = 0; attempt < CONFIG_READ_ATTEMPTS; attempt++) {
            int before = device.configGeneration();
            if (size > 0) {
                device.readConfig(0, copy);
            }
            if (device.configGeneration() == before) {
                return copy.asReadOnly();
            }
        }
        throw new VirtioDriverException(Errno.EAGAIN, "the config space kept changing while being read");
    }

    /** Writes {@code data} into the config space at {@code offset} (for the few writable fields). */
    public void writeConfig(int offset, MemorySegment data) {
        device.writeConfig(offset, data);
    }

    /** Called (on a device thread) when the device changes its config space; null to stop. */
    public void onConfigChange(Runnable listener) {
        device.setConfigChangeListener(listener);
    }

    /**
     * Reserves {@code size} bytes of driver memory for the device-class code (buffers, request
     * headers); before {@link #start}. Returns the offset, valid in {@link #memory()} once started.
     */
    public long reserve(long size, long alignment) {
        if (memory != null) {
            throw new IllegalStateException("memory is reserved before start()");
        }
        return plan.reserve(size, alignment);
    }

    /**
     * Sets up queues 0 to {@code queueCount - 1}, maps the driver memory, makes the queues ready and
     * sets DRIVER_OK.
     *
     * @throws VirtioDriverException if a queue is unavailable, the memory cannot be mapped, or the
     *     device refuses DRIVER_OK
     */
    public void start(int queueCount) throws VirtioDriverException {
        if (memory != null) {
            throw new IllegalStateException("already started");
        }
        if (queueCount < 1 || queueCount > device.queueCount()) {
            throw new VirtioDriverException(Errno.EINVAL, "the device has " + device.queueCount()
                    + " queues; asked to start " + queueCount);
        }
        try {
            startQueues(queueCount);
        } catch (VirtioException e) {
            abandon();
            throw new VirtioDriverException(e.errno(), "starting the device: " + e.getMessage(), e);
        } catch (VirtioDriverException | RuntimeException e) {
            abandon();
            throw e;
        }
    }

    private void startQueues(int queueCount) throws VirtioDriverException {
        int[] sizes = new int[queueCount];
        Object[] areas = new Object[queueCount];
        int indirect = hasFeature(VirtioFeature.RING_INDIRECT_DESC) ? options.maxSegments() : 0;
        for (int q = 0; q < queueCount; q++) {
            sizes[q] = queueSize(q);
            areas[q] = packed ? PackedDriverQueue.plan(plan, sizes[q], indirect)
                    : SplitDriverQueue.plan(plan, sizes[q], indirect);
        }
        DmaTable table = device.addressSpace(DEFAULT_ADDRESS_SPACE);
        memory = DriverMemory.map(table, plan.size(), options.iova(), "virtio-driver");
        queues = new DriverQueue[queueCount];
        interruptFds = new EventFd[queueCount];
        boolean eventIndex = hasFeature(VirtioFeature.RING_EVENT_IDX);
        int status = device.status();
        for (int q = 0; q < queueCount; q++) {
            EventFd fd = null;
            if (options.interruptMode() == InterruptMode.EVENTFD) {
                try {
                    fd = EventFd.createNonBlocking();
                } catch (LinuxException e) {
                    throw new VirtioDriverException(e.errno(), "creating queue " + q + "'s eventfd: " + e.getMessage());
                }
                interruptFds[q] = fd;
            }
            DriverQueue queue;
            long desc;
            long driverArea;
            long deviceArea;
            if (packed) {
                PackedDriverQueue.Areas a = (PackedDriverQueue.Areas) areas[q];
                queue = new PackedDriverQueue(device, q, sizes[q], memory, a, eventIndex, indirect,
                        options.interruptMode(), fd);
                desc = a.ring();
                driverArea = a.driverEvent();
                deviceArea = a.deviceEvent();
            } else {
                SplitDriverQueue.Areas a = (SplitDriverQueue.Areas) areas[q];
                queue = new SplitDriverQueue(device, q, sizes[q], memory, a, eventIndex, indirect,
                        options.interruptMode(), fd);
                desc = a.desc();
                driverArea = a.avail();
                deviceArea = a.used();
            }
            queues[q] = queue;
            device.setQueueSize(q, sizes[q]);
            device.setQueueAddress(q, memory.iovaOf(desc), memory.iovaOf(driverArea), memory.iovaOf(deviceArea));
            if (packed) {
                // As virtio_vdpa does: both wrap counters start at 1.
                device.setQueueState(q, PackedQueueState.initial());
            }
            switch (options.interruptMode()) {
                case EVENTFD -> device.setQueueInterrupt(q, QueueInterrupt.of(fd));
                case CALLBACK -> {
                    IntConsumer callback = options.interruptCallback();
                    int queueIndex = q;
                    device.setQueueInterrupt(q, () -> callback.accept(queueIndex));
                }
                case POLL -> device.setQueueInterrupt(q, QueueInterrupt.NONE);
            }
            device.setQueueReady(q, true);
            if (!device.queueReady(q)) {
                throw new VirtioDriverException(Errno.EIO, "the device did not make queue " + q + " ready");
            }
        }
        device.setStatus(status | DeviceStatus.DRIVER_OK);
        int now = device.status();
        if (!DeviceStatus.has(now, DeviceStatus.DRIVER_OK) || DeviceStatus.has(now, DeviceStatus.NEEDS_RESET)
                || DeviceStatus.has(now, DeviceStatus.FAILED)) {
            throw new VirtioDriverException(Errno.EIO, "the device did not accept DRIVER_OK (status "
                    + DeviceStatus.describe(now) + ")");
        }
        LOG.debug("device {} running: {} {} queues of sizes {}, features {}", device.deviceId(), queueCount,
                packed ? "packed" : "split", Arrays.toString(sizes), VirtioFeature.describe(features));
    }

    /**
     * The size {@link #start} gives queue {@code q}: the device's maximum, capped by the options, a power
     * of two for split rings. Device-class code sizes its buffer pools with it before start.
     *
     * @throws VirtioDriverException if the queue is unavailable or needs more entries than the driver offers
     */
    public int queueSize(int q) throws VirtioDriverException {
        int max = device.queueMaxSize(q);
        int min = Math.max(1, device.queueMinSize(q));
        if (max <= 0) {
            throw new VirtioDriverException(Errno.ENODEV, "queue " + q + " is not available (maximum size 0)");
        }
        int size = Math.min(max, Math.min(options.maxQueueSize(), packed ? PackedRing.MAX_SIZE : SplitRing.MAX_SIZE));
        if (!packed) {
            size = Integer.highestOneBit(size);
        }
        if (size < min) {
            throw new VirtioDriverException(Errno.EINVAL, "queue " + q + " needs at least " + min
                    + " entries; the driver can offer " + size);
        }
        return size;
    }

    /** How many queues are running. */
    public int queueCount() {
        return queues.length;
    }

    /** Queue {@code q}, once started. */
    public DriverQueue queue(int q) {
        return queues[q];
    }

    /** The driver's memory, once started: rings and the reserved buffers. */
    public DriverMemory memory() {
        if (memory == null) {
            throw new IllegalStateException("not started");
        }
        return memory;
    }

    /** The device status now. */
    public int status() {
        return device.status();
    }

    /** Throws if the device set NEEDS_RESET or FAILED. */
    public void checkHealthy() throws VirtioDriverException {
        int status = device.status();
        if (DeviceStatus.has(status, DeviceStatus.NEEDS_RESET) || DeviceStatus.has(status, DeviceStatus.FAILED)) {
            throw new VirtioDriverException(Errno.EIO, "the device needs a reset (status "
                    + DeviceStatus.describe(status) + ")");
        }
    }

    private void abandon() {
        resetQuietly(device);
        release();
    }

    private static void resetQuietly(VirtioDevice device) {
        try {
            device.reset();
        } catch (RuntimeException e) {
            LOG.warn("resetting device {}: {}", device.deviceId(), e.toString());
        }
    }

    private void release() {
        for (int q = 0; q < interruptFds.length; q++) {
            try {
                device.setQueueInterrupt(q, null);
            } catch (RuntimeException e) {
                LOG.debug("clearing queue {}'s interrupt: {}", q, e.toString());
            }
        }
        try {
            device.setConfigChangeListener(null);
        } catch (RuntimeException e) {
            LOG.debug("clearing the config listener: {}", e.toString());
        }
        if (memory != null) {
            memory.close();
        }
        for (EventFd fd : interruptFds) {
            if (fd != null) {
                fd.close();
            }
        }
    }

    /** Resets the device, unmaps the driver's memory from its DMA table and closes the eventfds. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        resetQuietly(device);
        release();
    }
}

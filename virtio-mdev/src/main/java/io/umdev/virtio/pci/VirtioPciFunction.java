package io.umdev.virtio.pci;

import static io.umdev.virtio.pci.VirtioPciLayout.*;

import io.umdev.emudev.Bar;
import io.umdev.emudev.DeviceInterrupts;
import io.umdev.emudev.EmuDevice;
import io.umdev.emudev.EmuDeviceListener;
import io.umdev.emudev.EmuQueue;
import io.umdev.emudev.RegisterHandler;
import io.umdev.emudev.pci.MsixTable;
import io.umdev.emudev.pci.PciConfigSpace;
import io.umdev.emudev.pci.PciIds;
import io.umdev.emudev.pci.PciRegisters;
import io.umdev.linux.Errno;
import io.umdev.linux.LinuxException;
import io.umdev.vfiouser.irq.IrqIndex;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.transport.QueueInterrupt;
import io.umdev.virtio.transport.VirtioDevice;
import io.umdev.virtio.transport.VirtioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link VirtioDevice} presented as a modern virtio-pci function (virtio 1.2 section 4.1): the
 * {@link EmuDevice} a vfio-user adapter serves to a guest's unmodified virtio_pci driver.
 *
 * <p>Shape: vendor 0x1AF4, device 0x1040 + virtio ID, revision 1, the class code of the device type; a
 * conventional 256-byte config space with five vendor capabilities (common, notify, ISR, device config,
 * PCI config access) pointing into BAR4 (64-bit prefetchable, areas 4 KiB apart, see
 * {@link VirtioPciLayout}); MSI-X with one vector per queue plus one for config changes, its table and
 * PBA in BAR1; INTA# with ISR semantics when MSI-X is off. Nothing is mmap-able, so QEMU posts the
 * guest's BAR writes (doorbells among them) without waiting for a reply.
 *
 * <p>Every register maps onto the transport API: feature windows onto {@link VirtioDevice#deviceFeatures}
 * and {@link VirtioDevice#setDriverFeatures}, status onto {@link VirtioDevice#setStatus} (0 resets, and
 * the reset is finished before the write returns, so the next read sees 0), queue registers are kept per
 * queue and handed over when the driver enables the queue, a doorbell write is {@link VirtioDevice#kick}.
 * Interrupts: each queue gets a {@link QueueInterrupt} made once, which the parent's worker calls; with
 * MSI-X on it triggers the client's eventfd for the queue's vector right there (lock-free), else it sets
 * the ISR bit and raises INTx. The device's config-change callback (also used for NEEDS_RESET) raises the
 * config vector, or ISR bit 1 with INTx.
 *
 * <p>Guest input is hostile: a vector beyond the table reads back NO_VECTOR, a queue select beyond the
 * device's queues reads zeros and ignores writes, refused transport calls are logged and leave the
 * register as it was; nothing here throws to the connection.
 */
public final class VirtioPciFunction implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioPciFunction.class);

    /** Transport features this transport cannot carry: their registers or mechanisms are not built. */
    static final long UNSUPPORTED_TRANSPORT_FEATURES = VirtioFeature.bits(VirtioFeature.NOTIFICATION_DATA,
            VirtioFeature.NOTIF_CONFIG_DATA, VirtioFeature.RING_RESET, VirtioFeature.ADMIN_VQ, VirtioFeature.SR_IOV);

    private final String name;
    private final VirtioDevice device;
    private final int queueCount;
    private final int vectors;
    private final long offeredFeatures;
    private final EmuDevice emu;
    private final DeviceInterrupts interrupts;
    private final IrqIndex msixIndex;
    private final MsixTable msix;
    private final int msixCapability;
    private final QueueVector[] queueVectors;
    private final AtomicInteger isr = new AtomicInteger();

    // Registers of the common configuration: written by the connection's thread only.
    private int deviceFeatureSelect;
    private int driverFeatureSelect;
    private long driverFeatures;
    private int queueSelect;
    private volatile int configVector = NO_VECTOR;
    /** MSI-X enabled and not function-masked: queue interrupts go straight to the client's eventfd. */
    private volatile boolean msixDirect;
    private volatile boolean msixEnabled;
    private volatile boolean closed;

    /**
     * Builds the function for {@code device}. Its DMA context is the device's address space 0: the table
     * the vfio-user server maps the client's memory into is the one the device's queues read.
     *
     * @param name for logs and the BAR memory names
     */
    public VirtioPciFunction(String name, VirtioDevice device) throws LinuxException {
        this.name = Objects.requireNonNull(name, "name");
        this.device = Objects.requireNonNull(device, "device");
        this.queueCount = device.queueCount();
        if (queueCount < 1 || queueCount > MAX_QUEUES) {
            throw new IllegalArgumentException("a virtio-pci function carries 1.." + MAX_QUEUES + " queues, not "
                    + queueCount);
        }
        this.vectors = queueCount + 1;
        this.offeredFeatures = device.deviceFeatures() & ~UNSUPPORTED_TRANSPORT_FEATURES;
        int virtioId = device.deviceId();
        PciIds ids = new PciIds(io.umdev.virtio.spec.VirtioId.PCI_VENDOR, deviceId(virtioId), device.vendorId(),
                SUBSYSTEM_ID, REVISION, classCode(virtioId));
        long msixBarSize = msixBarSize(vectors);
        int maxSize = 1;
        for (int q = 0; q < queueCount; q++) {
            maxSize = Math.max(maxSize, device.queueMaxSize(q));
        }
        int configSize = device.configSize();
        Bar.Builder virtioBar = Bar.memory64(VIRTIO_BAR, VIRTIO_BAR_SIZE, true)
                .trap(COMMON_OFFSET, COMMON_CFG_SIZE, new CommonConfig())
                .trap(ISR_OFFSET, ISR_SIZE, new IsrStatus())
                .trap(NOTIFY_OFFSET, (long) queueCount * NOTIFY_OFF_MULTIPLIER, new Notify());
        if (configSize > 0) {
            virtioBar.trap(DEVICE_OFFSET, configSize, new DeviceConfig());
        }
        EmuDevice.Builder builder = EmuDevice.builder(name, ids)
                .dmaTable(device.addressSpace(0))
                .interruptPin()
                .msix(vectors, MSIX_BAR, MSIX_TABLE_OFFSET, msixBarSize / 2)
                .bar(Bar.memory32(MSIX_BAR, msixBarSize))
                .bar(virtioBar)
                .queues(queueCount, maxSize)
                .vendorCapability(capability(CAP_COMMON_CFG, COMMON_OFFSET, COMMON_CFG_SIZE, null), at -> {
                })
                .vendorCapability(capability(CAP_NOTIFY_CFG, NOTIFY_OFFSET, (long) queueCount * NOTIFY_OFF_MULTIPLIER,
                        NOTIFY_OFF_MULTIPLIER), at -> {
                })
                .vendorCapability(capability(CAP_ISR_CFG, ISR_OFFSET, ISR_SIZE, null), at -> {
                });
        if (configSize > 0) {
            builder.vendorCapability(capability(CAP_DEVICE_CFG, DEVICE_OFFSET, configSize, null), at -> {
            });
        }
        int[] pciCfgAt = {-1};
        builder.vendorCapability(capability(CAP_PCI_CFG, 0, 0, 0), at -> pciCfgAt[0] = at);
        this.emu = builder.build();
        this.interrupts = emu.interrupts();
        this.msix = interrupts.msix();
        this.msixIndex = interrupts.index(DeviceInterrupts.MSIX_INDEX);
        this.msixCapability = emu.capability(PciRegisters.CAP_ID_MSIX);
        this.queueVectors = new QueueVector[queueCount];
        for (int q = 0; q < queueCount; q++) {
            queueVectors[q] = new QueueVector();
        }
        new PciConfigAccess(emu.config(), pciCfgAt[0]).install();
        emu.config().watch(msixCapability + PciRegisters.MSIX_CONTROL, Short.BYTES, c -> msixControlChanged());
        emu.addListener(new EmuDeviceListener() {
            @Override
            public void reset(EmuDevice d) {
                // The function's config space and queue registers are back to power-on already.
                virtioReset();
            }
        });
        device.setConfigChangeListener(this::configChanged);
    }

    /** A vendor capability's body (everything after ID, next and length). */
    private static byte[] capability(int cfgType, long offset, long length, Integer extra) {
        int size = extra == null ? CAP_SIZE : CAP_EXTENDED_SIZE;
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.put(CAP_CFG_TYPE, (byte) cfgType);
        b.put(CAP_BAR, (byte) (cfgType == CAP_PCI_CFG ? 0 : VIRTIO_BAR));
        b.putInt(CAP_OFFSET, (int) offset);
        b.putInt(CAP_LENGTH, (int) length);
        if (extra != null) {
            b.putInt(CAP_NOTIFY_OFF_MULTIPLIER, extra);
        }
        byte[] all = b.array();
        byte[] body = new byte[size - PciRegisters.VENDOR_HEADER];
        System.arraycopy(all, PciRegisters.VENDOR_HEADER, body, 0, body.length);
        return body;
    }

    /** BAR1: table then PBA in its upper half; a power of two of at least 4 KiB. */
    static long msixBarSize(int vectors) {
        long table = (long) vectors * PciRegisters.MSIX_ENTRY_SIZE;
        long size = MSIX_BAR_MIN_SIZE;
        while (size / 2 < table) {
            size <<= 1;
        }
        return size;
    }

    /** The emulated function, for a vfio-user adapter. */
    public EmuDevice emuDevice() {
        return emu;
    }

    /** The transport device behind it. */
    public VirtioDevice device() {
        return device;
    }

    /** Features the guest is offered: the device's, less the transport features this transport lacks. */
    public long offeredFeatures() {
        return offeredFeatures;
    }

    /** Detaches from the device (resetting it) and releases the function's memory and eventfds. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        device.setConfigChangeListener(null);
        try {
            device.reset();
        } catch (RuntimeException e) {
            LOG.warn("{}: resetting the device on close: {}", name, e.toString());
        }
        emu.close();
    }

    // ---- interrupts -------------------------------------------------------------------------------

    private void msixControlChanged() {
        boolean enabled = msix.enabled();
        boolean masked = (emu.config().get16(msixCapability + PciRegisters.MSIX_CONTROL)
                & PciRegisters.MSIX_CONTROL_FUNCTION_MASK) != 0;
        msixEnabled = enabled;
        msixDirect = enabled && !masked;
    }

    /** Raises {@code vector} for a queue (ISR bit {@code isrBit} when INTx carries it). Data path: no lock with MSI-X. */
    private void raise(int vector, int isrBit) {
        if (msixDirect) {
            // The common case: the client's eventfd for the vector is there; the worker writes it itself.
            if (vector != NO_VECTOR && msixIndex.hasTrigger(vector) && !msixIndex.isMasked(vector)) {
                msixIndex.trigger(vector);
            } else if (vector != NO_VECTOR) {
                msix.signal(vector); // held pending until the client installs or unmasks it
            }
        } else if (msixEnabled) {
            if (vector != NO_VECTOR) {
                msix.signal(vector); // function masked: held in the PBA
            }
        } else {
            isr.accumulateAndGet(isrBit, VirtioPciFunction::or); // a non-capturing function: no allocation
            interrupts.assertIntx();
        }
    }

    private static int or(int a, int b) {
        return a | b;
    }

    private void configChanged() {
        if (!closed) {
            raise(configVector, ISR_CONFIG);
        }
    }

    /** A queue's interrupt, made once; its vector is read when it fires. */
    private final class QueueVector implements QueueInterrupt {
        volatile int vector = NO_VECTOR;

        @Override
        public void signal() {
            raise(vector, ISR_QUEUE);
        }
    }

    // ---- reset ------------------------------------------------------------------------------------

    /**
     * A virtio reset (status 0, or the whole function reset by DEVICE_RESET or the client leaving): the
     * device and every transport register go back to their initial values. PCI config space is left
     * alone by a status-0 reset: BARs and MSI-X stay as the guest programmed them.
     */
    private void virtioReset() {
        try {
            device.reset();
        } catch (RuntimeException e) {
            LOG.warn("{}: device reset failed: {}", name, e.toString());
        }
        synchronized (this) {
            deviceFeatureSelect = 0;
            driverFeatureSelect = 0;
            driverFeatures = 0;
            queueSelect = 0;
            configVector = NO_VECTOR;
            for (QueueVector v : queueVectors) {
                v.vector = NO_VECTOR;
            }
            emu.queues().forEach(EmuQueue::reset);
        }
        isr.set(0);
        interrupts.deassertIntx();
        msixControlChanged();
    }

    // ---- BAR4 areas -------------------------------------------------------------------------------

    private static long readLe(MemorySegment src) {
        long value = 0;
        for (int i = 0; i < src.byteSize(); i++) {
            value |= (src.get(ValueLayout.JAVA_BYTE, i) & 0xffL) << (Byte.SIZE * i);
        }
        return value;
    }

    private static void writeLe(MemorySegment dst, long value) {
        for (int i = 0; i < dst.byteSize(); i++) {
            dst.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (Byte.SIZE * i)));
        }
    }

    /** The fields of struct virtio_pci_common_cfg, by offset and width. */
    private enum Field {
        DEVICE_FEATURE_SELECT(VirtioPciLayout.DEVICE_FEATURE_SELECT, 4),
        DEVICE_FEATURE(VirtioPciLayout.DEVICE_FEATURE, 4),
        DRIVER_FEATURE_SELECT(VirtioPciLayout.DRIVER_FEATURE_SELECT, 4),
        DRIVER_FEATURE(VirtioPciLayout.DRIVER_FEATURE, 4),
        MSIX_CONFIG(VirtioPciLayout.MSIX_CONFIG, 2),
        NUM_QUEUES(VirtioPciLayout.NUM_QUEUES, 2),
        DEVICE_STATUS(VirtioPciLayout.DEVICE_STATUS, 1),
        CONFIG_GENERATION(VirtioPciLayout.CONFIG_GENERATION, 1),
        QUEUE_SELECT(VirtioPciLayout.QUEUE_SELECT, 2),
        QUEUE_SIZE(VirtioPciLayout.QUEUE_SIZE, 2),
        QUEUE_MSIX_VECTOR(VirtioPciLayout.QUEUE_MSIX_VECTOR, 2),
        QUEUE_ENABLE(VirtioPciLayout.QUEUE_ENABLE, 2),
        QUEUE_NOTIFY_OFF(VirtioPciLayout.QUEUE_NOTIFY_OFF, 2),
        QUEUE_DESC(VirtioPciLayout.QUEUE_DESC, 8),
        QUEUE_DRIVER(VirtioPciLayout.QUEUE_DRIVER, 8),
        QUEUE_DEVICE(VirtioPciLayout.QUEUE_DEVICE, 8),
        QUEUE_NOTIFY_DATA(VirtioPciLayout.QUEUE_NOTIFY_DATA, 2),
        QUEUE_RESET(VirtioPciLayout.QUEUE_RESET, 2),
        ADMIN_QUEUE_INDEX(VirtioPciLayout.ADMIN_QUEUE_INDEX, 2),
        ADMIN_QUEUE_NUM(VirtioPciLayout.ADMIN_QUEUE_NUM, 2);

        private static final Field[] BY_BYTE = new Field[COMMON_CFG_SIZE];

        static {
            for (Field f : values()) {
                for (int i = 0; i < f.width; i++) {
                    BY_BYTE[f.offset + i] = f;
                }
            }
        }

        final int offset;
        final int width;

        Field(int offset, int width) {
            this.offset = offset;
            this.width = width;
        }

        long mask() {
            return width == Long.BYTES ? -1L : (1L << (Byte.SIZE * width)) - 1;
        }
    }

    /**
     * The common configuration. An access may cover part of a field (a 64-bit address written as two
     * 32-bit halves) or several fields; each field touched is read, merged and written whole.
     */
    private final class CommonConfig implements RegisterHandler {
        @Override
        public int read(long offset, MemorySegment dst) {
            synchronized (VirtioPciFunction.this) {
                for (int i = 0; i < dst.byteSize(); ) {
                    Field f = Field.BY_BYTE[(int) offset + i];
                    long value = get(f);
                    int from = (int) offset + i - f.offset;
                    int n = (int) Math.min(f.width - from, dst.byteSize() - i);
                    for (int k = 0; k < n; k++) {
                        dst.set(ValueLayout.JAVA_BYTE, i + k, (byte) (value >>> (Byte.SIZE * (from + k))));
                    }
                    i += n;
                }
            }
            return Errno.OK;
        }

        @Override
        public int write(long offset, MemorySegment src) {
            synchronized (VirtioPciFunction.this) {
                for (int i = 0; i < src.byteSize(); ) {
                    Field f = Field.BY_BYTE[(int) offset + i];
                    int from = (int) offset + i - f.offset;
                    int n = (int) Math.min(f.width - from, src.byteSize() - i);
                    long value = from == 0 && n == f.width ? 0 : get(f);
                    for (int k = 0; k < n; k++) {
                        long shift = Byte.SIZE * (from + k);
                        value = (value & ~(0xffL << shift)) | ((src.get(ValueLayout.JAVA_BYTE, i + k) & 0xffL) << shift);
                    }
                    set(f, value & f.mask());
                    i += n;
                }
            }
            return Errno.OK;
        }
    }

    private EmuQueue selectedQueue() {
        return queueSelect < queueCount ? emu.queues().get(queueSelect) : null;
    }

    /** A common configuration field's value. Lock held. */
    private long get(Field f) {
        EmuQueue queue = selectedQueue();
        return switch (f) {
            case DEVICE_FEATURE_SELECT -> deviceFeatureSelect & 0xffffffffL;
            case DEVICE_FEATURE -> window(offeredFeatures, deviceFeatureSelect);
            case DRIVER_FEATURE_SELECT -> driverFeatureSelect & 0xffffffffL;
            case DRIVER_FEATURE -> window(driverFeatures, driverFeatureSelect);
            case MSIX_CONFIG -> configVector;
            case NUM_QUEUES -> queueCount;
            case DEVICE_STATUS -> device.status() & 0xff;
            case CONFIG_GENERATION -> device.configGeneration() & 0xff;
            case QUEUE_SELECT -> queueSelect;
            case QUEUE_SIZE -> queue == null ? 0 : queue.size();
            case QUEUE_MSIX_VECTOR -> queue == null ? NO_VECTOR : queueVectors[queueSelect].vector;
            case QUEUE_ENABLE -> queue != null && queue.enabled() ? 1 : 0;
            case QUEUE_NOTIFY_OFF -> queue == null ? 0 : queueSelect;
            case QUEUE_DESC -> queue == null ? 0 : queue.descAddress();
            case QUEUE_DRIVER -> queue == null ? 0 : queue.driverAddress();
            case QUEUE_DEVICE -> queue == null ? 0 : queue.deviceAddress();
            case QUEUE_NOTIFY_DATA, QUEUE_RESET, ADMIN_QUEUE_INDEX, ADMIN_QUEUE_NUM -> 0;
        };
    }

    private static long window(long features, int select) {
        return select >= 0 && select < FEATURE_WINDOWS ? (features >>> (FEATURE_WINDOW_BITS * select)) & 0xffffffffL : 0;
    }

    /** A guest write of a whole common configuration field. Lock held. */
    private void set(Field f, long value) {
        EmuQueue queue = selectedQueue();
        switch (f) {
            case DEVICE_FEATURE_SELECT -> deviceFeatureSelect = (int) value;
            case DRIVER_FEATURE_SELECT -> driverFeatureSelect = (int) value;
            case DRIVER_FEATURE -> setDriverFeatureWindow(value);
            case MSIX_CONFIG -> configVector = validVector((int) value);
            case DEVICE_STATUS -> setStatus((int) value);
            case QUEUE_SELECT -> queueSelect = (int) value;
            case QUEUE_SIZE -> {
                if (queue != null && !queue.setSize((int) value)) {
                    LOG.debug("{}: queue {} size {} refused", name, queueSelect, value);
                }
            }
            case QUEUE_MSIX_VECTOR -> {
                if (queue != null) {
                    queueVectors[queueSelect].vector = validVector((int) value);
                }
            }
            case QUEUE_ENABLE -> {
                if (queue != null && value == 1 && !queue.enabled()) {
                    enableQueue(queueSelect, queue);
                }
            }
            case QUEUE_DESC -> {
                if (queue != null) {
                    queue.setAddresses(value, queue.driverAddress(), queue.deviceAddress());
                }
            }
            case QUEUE_DRIVER -> {
                if (queue != null) {
                    queue.setAddresses(queue.descAddress(), value, queue.deviceAddress());
                }
            }
            case QUEUE_DEVICE -> {
                if (queue != null) {
                    queue.setAddresses(queue.descAddress(), queue.driverAddress(), value);
                }
            }
            default -> LOG.debug("{}: write to read-only common config field {} ignored", name, f);
        }
    }

    private int validVector(int vector) {
        return vector >= 0 && vector < vectors ? vector : NO_VECTOR;
    }

    private void setDriverFeatureWindow(long value) {
        if (driverFeatureSelect < 0 || driverFeatureSelect >= FEATURE_WINDOWS) {
            return;
        }
        int shift = FEATURE_WINDOW_BITS * driverFeatureSelect;
        driverFeatures = (driverFeatures & ~(0xffffffffL << shift)) | ((value & 0xffffffffL) << shift);
        try {
            device.setDriverFeatures(driverFeatures);
        } catch (VirtioException e) {
            LOG.warn("{}: driver features {} refused: {}", name, VirtioFeature.describe(driverFeatures), e.getMessage());
        }
    }

    private void setStatus(int status) {
        if (status == DeviceStatus.RESET) {
            // Finished before the write returns: the driver's next read sees 0, as the spec requires.
            virtioReset();
            return;
        }
        try {
            device.setStatus(status);
        } catch (VirtioException e) {
            LOG.warn("{}: status {} refused: {}", name, DeviceStatus.describe(status), e.getMessage());
        }
    }

    /** queue_enable = 1: the queue's registers go to the device, which may start it. */
    private void enableQueue(int q, EmuQueue queue) {
        try {
            device.setQueueSize(q, queue.size());
            device.setQueueAddress(q, queue.descAddress(), queue.driverAddress(), queue.deviceAddress());
            device.setQueueInterrupt(q, queueVectors[q]);
            device.setQueueReady(q, true);
            queue.setEnabled(true);
        } catch (VirtioException e) {
            LOG.warn("{}: enabling queue {} refused: {}", name, q, e.getMessage());
        }
    }

    /** ISR status: reading returns the pending causes, clears them and lowers INTx. */
    private final class IsrStatus implements RegisterHandler {
        @Override
        public int read(long offset, MemorySegment dst) {
            int value = isr.getAndSet(0);
            interrupts.deassertIntx();
            writeLe(dst, value);
            return Errno.OK;
        }

        @Override
        public int write(long offset, MemorySegment src) {
            return Errno.OK; // read-only
        }
    }

    /** The device-specific configuration, straight from the device. */
    private final class DeviceConfig implements RegisterHandler {
        @Override
        public int read(long offset, MemorySegment dst) {
            try {
                device.readConfig((int) offset, dst);
                return Errno.OK;
            } catch (VirtioException e) {
                return e.errno();
            }
        }

        @Override
        public int write(long offset, MemorySegment src) {
            try {
                device.writeConfig((int) offset, src);
                return Errno.OK;
            } catch (VirtioException e) {
                return e.errno();
            }
        }
    }

    /** The doorbells: a write at q * multiplier kicks queue q (whatever is written: no notification data). */
    private final class Notify implements RegisterHandler {
        @Override
        public int read(long offset, MemorySegment dst) {
            dst.fill((byte) 0);
            return Errno.OK;
        }

        @Override
        public int write(long offset, MemorySegment src) {
            if (offset % NOTIFY_OFF_MULTIPLIER != 0) {
                return Errno.EINVAL;
            }
            device.kick((int) (offset / NOTIFY_OFF_MULTIPLIER));
            return Errno.OK;
        }
    }

    /**
     * The PCI configuration access capability: the driver picks a BAR, offset and length in the
     * capability, then reads or writes {@code pci_cfg_data} to reach the BAR through config space (what
     * firmware uses when it cannot map a 64-bit BAR). A write of the data field performs the BAR write; a
     * write of the window's position loads the data field from the BAR so that a following read sees it.
     */
    private final class PciConfigAccess {
        private final PciConfigSpace config;
        private final int at;

        PciConfigAccess(PciConfigSpace config, int at) {
            this.config = config;
            this.at = at;
        }

        void install() {
            config.setWritable(at + CAP_BAR, 1, 0xff);
            config.setWritable(at + CAP_OFFSET, Integer.BYTES, 0xffffffffL);
            config.setWritable(at + CAP_LENGTH, Integer.BYTES, 0xffffffffL);
            config.setWritable(at + CAP_PCI_CFG_DATA, PCI_CFG_DATA_SIZE, 0xffffffffL);
            config.watch(at + CAP_BAR, CAP_PCI_CFG_DATA - CAP_BAR, c -> load());
            config.watch(at + CAP_PCI_CFG_DATA, PCI_CFG_DATA_SIZE, c -> store());
        }

        /** The BAR and range the window points at, or null if it points nowhere valid. */
        private MemorySegment window(MemorySegment scratch) {
            int bar = config.get8(at + CAP_BAR);
            long offset = config.get32(at + CAP_OFFSET);
            int length = (int) config.get32(at + CAP_LENGTH);
            Bar target = emu.bar(bar);
            if (target == null || (length != 1 && length != 2 && length != 4) || offset % length != 0
                    || offset > target.size() - length) {
                return null;
            }
            return scratch.asSlice(0, length);
        }

        private void load() {
            MemorySegment data = window(MemorySegment.ofArray(new byte[PCI_CFG_DATA_SIZE]));
            if (data == null) {
                return;
            }
            int bar = config.get8(at + CAP_BAR);
            long offset = config.get32(at + CAP_OFFSET);
            // ISR is read-to-clear: loading the window must not consume it.
            if (bar == VIRTIO_BAR && offset >= ISR_OFFSET && offset < ISR_OFFSET + ISR_SIZE) {
                return;
            }
            if (emu.bar(bar).read(offset, data) == Errno.OK) {
                config.set(at + CAP_PCI_CFG_DATA, (int) data.byteSize(), readLe(data));
            }
        }

        private void store() {
            MemorySegment data = window(MemorySegment.ofArray(new byte[PCI_CFG_DATA_SIZE]));
            if (data == null) {
                return;
            }
            writeLe(data, config.get(at + CAP_PCI_CFG_DATA, (int) data.byteSize()));
            int result = emu.bar(config.get8(at + CAP_BAR)).write(config.get32(at + CAP_OFFSET), data);
            if (result != Errno.OK) {
                LOG.debug("{}: PCI config access write refused: {}", name, Errno.name(result));
            }
        }
    }

    @Override
    public String toString() {
        return name + " (virtio-pci, " + queueCount + " queues)";
    }
}

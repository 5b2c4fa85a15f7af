package io.umdev.emudev;

import static io.umdev.emudev.pci.PciRegisters.*;

import io.umdev.emudev.pci.MsixTable;
import io.umdev.emudev.pci.PciBar;
import io.umdev.emudev.pci.PciCapabilities;
import io.umdev.emudev.pci.PciConfigSpace;
import io.umdev.emudev.pci.PciIds;
import io.umdev.linux.LinuxException;
import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.vfiouser.irq.IrqIndex;
import io.umdev.vfiouser.protocol.IrqInfoPayload;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An emulated PCI function, after DPDK's emudev design: it owns its configuration space and
 * capabilities, its BARs (registers and shared memory, doorbells), its interrupts, its DMA memory
 * table, its queues, its named attributes and its lifecycle, and tells subscribers what happens. It
 * knows nothing of how it is served: one adapter serves it over vfio-user.
 *
 * <p>Lifecycle: CREATED → {@link #configure()} → CONFIGURED → {@link #start()} → RUNNING →
 * {@link #stop()} → STOPPED → start again, and {@link #close()} from anywhere. {@link #reset()} returns
 * the function to its power-on state (config space, interrupts, queues) without changing the lifecycle.
 */
public final class EmuDevice implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmuDevice.class);
    /** Default bound on the client's DMA ranges. */
    public static final int DEFAULT_MAX_DMA_MAPPINGS = 1024;

    /** Where the device is in its life. */
    public enum State {
        CREATED,
        CONFIGURED,
        RUNNING,
        STOPPED,
        CLOSED
    }

    private final String name;
    private final PciIds ids;
    private final PciConfigSpace config;
    private final Bar[] bars;
    private final DeviceInterrupts interrupts;
    private final DmaTable dma;
    private final boolean ownsDma;
    private final List<EmuQueue> queues;
    private final Map<Integer, Integer> capabilities;
    private final Map<String, String> attributes;
    private final byte[] powerOn;
    private final List<EmuDeviceListener> listeners = new CopyOnWriteArrayList<>();
    private volatile State state = State.CREATED;

    private EmuDevice(String name, PciIds ids, PciConfigSpace config, Bar[] bars, DeviceInterrupts interrupts,
            DmaTable dma, boolean ownsDma, List<EmuQueue> queues, Map<Integer, Integer> capabilities,
            Map<String, String> attributes) {
        this.name = name;
        this.ids = ids;
        this.config = config;
        this.bars = bars;
        this.interrupts = interrupts;
        this.dma = dma;
        this.ownsDma = ownsDma;
        this.queues = List.copyOf(queues);
        this.capabilities = Map.copyOf(capabilities);
        this.attributes = Collections.synchronizedMap(new LinkedHashMap<>(attributes));
        this.powerOn = config.snapshot();
    }

    public static Builder builder(String name, PciIds ids) {
        return new Builder(name, ids);
    }

    public String name() {
        return name;
    }

    public PciIds ids() {
        return ids;
    }

    public PciConfigSpace config() {
        return config;
    }

    /** BAR {@code index} (0-5), or null if the function does not implement it. */
    public Bar bar(int index) {
        return index >= 0 && index < bars.length ? bars[index] : null;
    }

    public DeviceInterrupts interrupts() {
        return interrupts;
    }

    /** The client memory this device may reach: its DMA context. */
    public DmaTable dma() {
        return dma;
    }

    public List<EmuQueue> queues() {
        return queues;
    }

    /** Config offset of the first capability with {@code id}, or -1. */
    public int capability(int id) {
        return capabilities.getOrDefault(id, -1);
    }

    public State state() {
        return state;
    }

    public void addListener(EmuDeviceListener listener) {
        listeners.add(listener);
    }

    public void removeListener(EmuDeviceListener listener) {
        listeners.remove(listener);
    }

    // ---- attributes ----------------------------------------------------------------------------

    public String attribute(String attributeName) {
        return attributes.get(attributeName);
    }

    public Map<String, String> attributes() {
        synchronized (attributes) {
            return Map.copyOf(attributes);
        }
    }

    public void setAttribute(String attributeName, String value) {
        attributes.put(attributeName, value);
        listeners.forEach(l -> l.attributeChanged(this, attributeName, value));
    }

    // ---- lifecycle -----------------------------------------------------------------------------

    private synchronized void move(State to, State... allowedFrom) {
        State from = state;
        boolean allowed = false;
        for (State s : allowedFrom) {
            allowed |= s == from;
        }
        if (!allowed) {
            throw new IllegalStateException(name + ": cannot go from " + from + " to " + to);
        }
        state = to;
        LOG.debug("{}: {} -> {}", name, from, to);
        listeners.forEach(l -> l.stateChanged(this, from, to));
    }

    /** The device is fully set up and may be served. */
    public void configure() {
        move(State.CONFIGURED, State.CREATED);
    }

    /** A client is driving the device: its data path may run. */
    public void start() {
        move(State.RUNNING, State.CONFIGURED, State.STOPPED);
    }

    /** The client went away: the data path stops. */
    public void stop() {
        move(State.STOPPED, State.RUNNING);
    }

    /** Power-on state for config space, interrupts and queues; subscribers reset their own state. */
    public void reset() {
        if (state == State.CLOSED) {
            throw new IllegalStateException(name + " is closed");
        }
        config.restore(powerOn);
        interrupts.reset();
        queues.forEach(EmuQueue::reset);
        listeners.forEach(l -> l.reset(this));
    }

    /** Releases the BAR memory, the DMA table (if the device made it) and the interrupt eventfds. */
    @Override
    public void close() {
        synchronized (this) {
            if (state == State.CLOSED) {
                return;
            }
        }
        move(State.CLOSED, State.values());
        for (Bar bar : bars) {
            if (bar != null) {
                bar.close();
            }
        }
        if (ownsDma) {
            dma.close();
        }
        for (int i = 0; i < DeviceInterrupts.INDEX_COUNT; i++) {
            interrupts.index(i).reset();
        }
    }

    /** Describes a function; {@link #build()} creates its memory and config space. */
    public static final class Builder {
        private final String name;
        private final PciIds ids;
        private final List<Bar.Builder> barBuilders = new ArrayList<>();
        private final List<BiConsumer<PciCapabilities, Map<Integer, Integer>>> capabilitySteps = new ArrayList<>();
        private final Map<String, String> attributes = new LinkedHashMap<>();
        private boolean express;
        private boolean interruptPin;
        private int msiVectors;
        private int msixVectors;
        private int msixBar = -1;
        private long msixTableOffset;
        private long msixPbaOffset;
        private int queueCount;
        private int queueSize;
        private int maxDmaMappings = DEFAULT_MAX_DMA_MAPPINGS;
        private DmaTable dmaTable;
        private boolean built;

        private Builder(String name, PciIds ids) {
            this.name = name;
            this.ids = ids;
        }

        /** A PCI Express endpoint: 4 KiB config space and an Express capability. */
        public Builder express() {
            this.express = true;
            capabilitySteps.add((caps, offsets) -> offsets.putIfAbsent(CAP_ID_EXPRESS, caps.addExpress(EXP_TYPE_ENDPOINT, false)));
            return this;
        }

        /** Wires INTA#: the device may fall back to a level interrupt. */
        public Builder interruptPin() {
            this.interruptPin = true;
            return this;
        }

        public Builder powerManagement() {
            capabilitySteps.add((caps, offsets) -> offsets.putIfAbsent(CAP_ID_PM, caps.addPowerManagement()));
            return this;
        }

        /** MSI with {@code vectors} (power of two up to 32) vectors and per-vector masking. */
        public Builder msi(int vectors) {
            this.msiVectors = vectors;
            capabilitySteps.add((caps, offsets) -> offsets.putIfAbsent(CAP_ID_MSI, caps.addMsi(vectors, true)));
            return this;
        }

        /** MSI-X with its table and PBA in BAR {@code bar} (which must be described with {@link #bar}). */
        public Builder msix(int vectors, int bar, long tableOffset, long pbaOffset) {
            this.msixVectors = vectors;
            this.msixBar = bar;
            this.msixTableOffset = tableOffset;
            this.msixPbaOffset = pbaOffset;
            capabilitySteps.add((caps, offsets) -> offsets.putIfAbsent(CAP_ID_MSIX,
                    caps.addMsix(vectors, bar, tableOffset, bar, pbaOffset)));
            return this;
        }

        /**
         * A vendor-specific capability; {@code setup} receives its config offset (to make fields writable or
         * watch them).
         */
        public Builder vendorCapability(byte[] body, VendorCapabilitySetup setup) {
            capabilitySteps.add((caps, offsets) -> {
                int at = caps.addVendor(body);
                offsets.putIfAbsent(CAP_ID_VENDOR, at);
                setup.placed(at);
            });
            return this;
        }

        public Builder bar(Bar.Builder bar) {
            barBuilders.add(bar);
            return this;
        }

        public Builder queues(int count, int maxSize) {
            this.queueCount = count;
            this.queueSize = maxSize;
            return this;
        }

        public Builder maxDmaMappings(int max) {
            this.maxDmaMappings = max;
            return this;
        }

        /**
         * Uses {@code table} as the device's DMA context instead of a table of its own: the client's memory
         * is mapped into it, so whoever else holds it (an mdev instance's parent) reaches the same memory.
         * The device does not close a table it was given.
         */
        public Builder dmaTable(DmaTable table) {
            this.dmaTable = java.util.Objects.requireNonNull(table, "table");
            return this;
        }

        public Builder attribute(String attributeName, String value) {
            attributes.put(attributeName, value);
            return this;
        }

        public EmuDevice build() throws LinuxException {
            if (built) {
                throw new IllegalStateException("a builder builds one device");
            }
            built = true;
            PciConfigSpace config = new PciConfigSpace(express ? EXPRESS_CONFIG_SIZE : CONFIG_SIZE);
            writeHeader(config);
            // Maskable: MsixTable holds a vector the client masks with SET_IRQS and delivers it at the
            // unmask. QEMU does not use this (it removes the eventfd instead); other clients may.
            IrqIndex msixIndex = msixVectors > 0
                    ? new IrqIndex(msixVectors,
                            IrqInfoPayload.FLAG_EVENTFD | IrqInfoPayload.FLAG_MASKABLE | IrqInfoPayload.FLAG_NORESIZE)
                    : null;
            Map<Integer, Integer> capabilityOffsets = new LinkedHashMap<>();
            PciCapabilities caps = new PciCapabilities(config);
            for (BiConsumer<PciCapabilities, Map<Integer, Integer>> step : capabilitySteps) {
                step.accept(caps, capabilityOffsets);
            }
            MsixTable msix = msixIndex == null ? null
                    : new MsixTable(config, capabilityOffsets.get(CAP_ID_MSIX), msixVectors, msixIndex);
            Bar[] bars = buildBars(config, msix);
            DeviceInterrupts interrupts = new DeviceInterrupts(config, interruptPin,
                    capabilityOffsets.getOrDefault(CAP_ID_MSI, -1), msiVectors, msix, msixIndex);
            List<EmuQueue> queues = new ArrayList<>();
            for (int i = 0; i < queueCount; i++) {
                queues.add(new EmuQueue(i, queueSize));
            }
            boolean owns = dmaTable == null;
            return new EmuDevice(name, ids, config, bars, interrupts, owns ? new DmaTable(maxDmaMappings) : dmaTable,
                    owns, queues, capabilityOffsets, attributes);
        }

        private void writeHeader(PciConfigSpace config) {
            config.set16(VENDOR_ID, ids.vendorId());
            config.set16(DEVICE_ID, ids.deviceId());
            config.set8(REVISION_ID, ids.revision());
            config.set(CLASS_PROG, 3, ids.classCode());
            config.set16(SUBSYSTEM_VENDOR_ID, ids.subsystemVendorId());
            config.set16(SUBSYSTEM_ID, ids.subsystemId());
            config.set8(HEADER_TYPE, HEADER_TYPE_NORMAL);
            config.setWritable(COMMAND, 2, COMMAND_WRITABLE);
            config.setWriteOneToClear(STATUS, 2, STATUS_WRITE_ONE_TO_CLEAR);
            config.setWritable(CACHE_LINE_SIZE, 1, 0xff);
            config.setWritable(INTERRUPT_LINE, 1, 0xff);
            config.set8(INTERRUPT_PIN, interruptPin ? INTERRUPT_PIN_INTA : INTERRUPT_PIN_NONE);
            // No expansion ROM: the ROM BAR stays 0 even after a sizing write, so QEMU sees none.
        }

        private Bar[] buildBars(PciConfigSpace config, MsixTable msix) throws LinuxException {
            Bar.Builder[] byIndex = new Bar.Builder[BAR_COUNT];
            boolean[] occupied = new boolean[BAR_COUNT];
            for (Bar.Builder b : barBuilders) {
                int index = b.shape().index();
                int slots = b.shape().kind() == PciBar.Kind.MEMORY64 ? 2 : 1;
                for (int i = index; i < index + slots; i++) {
                    if (occupied[i]) {
                        throw new IllegalArgumentException("BAR slot " + i + " is described twice");
                    }
                    occupied[i] = true;
                }
                byIndex[index] = b;
            }
            if (msix != null) {
                Bar.Builder home = msixBar >= 0 && msixBar < BAR_COUNT ? byIndex[msixBar] : null;
                if (home == null) {
                    throw new IllegalArgumentException("MSI-X lives in BAR " + msixBar + ", which is not described");
                }
                home.trap(msixTableOffset, msix.tableSize(), new MsixTableRegisters(msix));
                home.trap(msixPbaOffset, msix.pbaSize(), new MsixPbaRegisters(msix));
            }
            Bar[] bars = new Bar[BAR_COUNT];
            try {
                for (int i = 0; i < BAR_COUNT; i++) {
                    if (byIndex[i] != null) {
                        bars[i] = byIndex[i].build();
                        bars[i].shape().install(config);
                    }
                }
            } catch (LinuxException | RuntimeException e) {
                for (Bar b : bars) {
                    if (b != null) {
                        b.close();
                    }
                }
                throw e;
            }
            return bars;
        }
    }

    /** Told where a vendor-specific capability was placed. */
    @FunctionalInterface
    public interface VendorCapabilitySetup {
        void placed(int offset);
    }
}

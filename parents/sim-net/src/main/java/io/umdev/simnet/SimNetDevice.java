package io.umdev.simnet;

import io.umdev.mdev.InstanceContext;
import io.umdev.simnet.l2.Ethernet;
import io.umdev.simnet.l2.FrameMailbox;
import io.umdev.simnet.l2.LearningSwitch;
import io.umdev.simnet.l2.Port;
import io.umdev.simnet.l2.RxFilter;
import io.umdev.simnet.l2.Switches;
import io.umdev.virtio.ring.DescriptorChain;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.NetSpec;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.transport.QueueStatistics;
import io.umdev.virtio.transport.RequestHandler;
import io.umdev.virtio.transport.SoftwareVirtioDevice;
import io.umdev.virtio.transport.VirtioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A software virtio-net device, the vdpa_sim_net idea grown up: queues rx0, tx0, ..., rxN, txN and
 * the control queue last; config space with the MAC, LINK_UP, max_virtqueue_pairs and the MTU. What
 * the driver transmits goes to its {@link Port}: back to itself in loopback mode, or into a
 * {@link LearningSwitch}. Frames for it wait in the port's mailboxes until its worker copies them into
 * receive buffers.
 *
 * <p>Transmit: the 12-byte {@code virtio_net_hdr_v1} is checked (no offload is offered, so flags and
 * GSO type must be zero) and stripped; a runt or a frame above MTU + header + 802.1Q tag is dropped
 * and counted. Receive: a zero header with num_buffers 1 (no MRG_RXBUF) then the frame; a frame
 * larger than the buffer offered is dropped and counted. Control: see {@link NetControl}. A chain
 * that breaks the transport's rules (a transmit buffer shorter than its header, a control command
 * with no room for its ack) marks the device NEEDS_RESET.
 *
 * <p>Without MQ negotiated the device has one pair and the control queue is queue 2, whatever
 * max_vqp is (virtio 5.1.2); a driver using the other queues then is marked NEEDS_RESET.
 *
 * <p>The control queue sits alone in queue group 1, with two address spaces, so a VMM can shadow it
 * (as vdpa_sim_net does).
 */
final class SimNetDevice extends SoftwareVirtioDevice {
    private static final Logger LOG = LoggerFactory.getLogger(SimNetDevice.class);

    /** Features of the virtio-net class offered; the engine adds the ring features. */
    static final long NET_FEATURES = VirtioFeature.bits(NetSpec.F_MAC, NetSpec.F_MTU, NetSpec.F_STATUS,
            NetSpec.F_CTRL_VQ, NetSpec.F_CTRL_RX, NetSpec.F_CTRL_RX_EXTRA, NetSpec.F_CTRL_VLAN,
            NetSpec.F_CTRL_MAC_ADDR, NetSpec.F_MQ);
    /** Features that are meaningless without the control queue. */
    private static final long NEED_CTRL_VQ = VirtioFeature.bits(NetSpec.F_CTRL_RX, NetSpec.F_CTRL_RX_EXTRA,
            NetSpec.F_CTRL_VLAN, NetSpec.F_CTRL_MAC_ADDR, NetSpec.F_MQ);
    static final int QUEUE_SIZE = 256;
    private static final int DATA_GROUP = 0;
    private static final int CTRL_GROUP = 1;
    private static final int GROUPS = 2;
    private static final int ADDRESS_SPACES = 2;
    /** Bytes of frame buffers per port, spread over its pairs' mailboxes. */
    private static final long MAILBOX_BYTES = 4L << 20;
    private static final int MIN_MAILBOX_SLOTS = 8;
    private static final int MAX_MAILBOX_SLOTS = 256;
    /** The largest control command accepted; a longer one is answered ERR. */
    private static final int MAX_CTRL_COMMAND = 16 << 10;

    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final UUID uuid;
    private final SimNetSettings settings;
    private final Switches switches;
    private final String name;
    private final int pairs;
    private final Port port;
    private final RequestHandler[] handlers;
    private final RequestHandler control;
    private final RequestHandler unused;
    /** The header every received frame gets: zero but num_buffers = 1. Read only. */
    private final MemorySegment rxHeader = MemorySegment.ofArray(new byte[NetSpec.HDR_SIZE]);
    private final NetControl commands;
    private volatile int activePairs = 1;
    /** The station address from the attributes (changed by a live update); a reset returns to it. */
    private volatile long configuredMac;
    private final AtomicLong ctrlOk = new AtomicLong();
    private final AtomicLong ctrlErr = new AtomicLong();
    private final AtomicLong flushed = new AtomicLong();

    SimNetDevice(InstanceContext context, SimNetSettings settings, Switches switches) {
        super(definition(context, settings), context.dmaTable());
        this.uuid = context.uuid();
        this.settings = settings;
        this.switches = switches;
        this.name = definition().name();
        this.pairs = settings.maxQueuePairs();
        this.commands = new NetControl(name, pairs);
        this.configuredMac = settings.mac();
        rxHeader.set(LE16, NetSpec.HDR_NUM_BUFFERS, (short) 1);
        int maxFrame = Ethernet.maxFrameLength(settings.mtu());
        boolean loopback = settings.mode() == SimNetSettings.Mode.LOOPBACK;
        this.port = new Port(name, pairs, mailboxSlots(maxFrame, pairs), settings.mtu(), loopback,
                RxFilter.initial(settings.mac()), pair -> requestService(NetSpec.rxQueue(pair)));
        this.handlers = new RequestHandler[2 * pairs];
        for (int pair = 0; pair < pairs; pair++) {
            handlers[NetSpec.rxQueue(pair)] = new Receive(pair);
            handlers[NetSpec.txQueue(pair)] = new Transmit(pair, maxFrame);
        }
        this.control = new Control();
        this.unused = chain -> {
            needsReset("queue " + chain.queue() + " is not in use: MQ was not negotiated, so the device has one "
                    + "queue pair and the control queue is 2");
            return 0;
        };
        writeInitialConfig();
        if (!loopback) {
            switches.attach(settings.switchName(), port);
        }
        LOG.info("{}: mac {} mtu {} pairs {} {}", name, macText(settings.mac()), settings.mtu(), pairs,
                loopback ? "loopback" : "on switch " + settings.switchName());
    }

    private static Definition definition(InstanceContext context, SimNetSettings settings) {
        int queues = 2 * settings.maxQueuePairs() + 1;
        return Definition.of("sim-net/" + context.uuid(), VirtioId.NET, NET_FEATURES, queues, QUEUE_SIZE,
                NetSpec.CONFIG_SIZE).withGroups(GROUPS, ADDRESS_SPACES);
    }

    /** Slots per mailbox: {@link #MAILBOX_BYTES} spread over the pairs, a power of two within bounds. */
    static int mailboxSlots(int maxFrame, int pairs) {
        long fit = MAILBOX_BYTES / ((long) maxFrame * pairs);
        int slots = (int) Math.min(MAX_MAILBOX_SLOTS, Math.max(MIN_MAILBOX_SLOTS, fit));
        return Integer.highestOneBit(slots);
    }

    private void writeInitialConfig() {
        updateConfig(config -> {
            Ethernet.putAddress(config, NetSpec.CONFIG_MAC, settings.mac());
            config.set(LE16, NetSpec.CONFIG_STATUS, (short) NetSpec.STATUS_LINK_UP);
            config.set(LE16, NetSpec.CONFIG_MAX_VIRTQUEUE_PAIRS, (short) pairs);
            config.set(LE16, NetSpec.CONFIG_MTU, (short) settings.mtu());
        });
    }

    /** The port this device is attached by. */
    Port port() {
        return port;
    }

    UUID uuid() {
        return uuid;
    }

    SimNetSettings settings() {
        return settings;
    }

    /** Queue pairs carrying traffic now. */
    int activePairs() {
        return activePairs;
    }

    /**
     * The queue pairs the driver's features give the device: all offered with MQ (and before the
     * features are settled), one without MQ.
     */
    private int layoutPairs() {
        boolean settled = (status() & DeviceStatus.FEATURES_OK) != 0;
        return settled && !VirtioFeature.has(driverFeatures(), NetSpec.F_MQ) ? 1 : pairs;
    }

    /** The control queue's index: after the last pair, which without MQ is pair 0 (virtio 5.1.2). */
    int controlQueue() {
        return NetSpec.ctrlQueue(layoutPairs());
    }

    @Override
    public int queueGroup(int q) {
        super.queueGroup(q); // range check
        return q == controlQueue() ? CTRL_GROUP : DATA_GROUP;
    }

    @Override
    protected void validateFeatures(long features) {
        if ((features & NEED_CTRL_VQ) != 0 && !VirtioFeature.has(features, NetSpec.F_CTRL_VQ)) {
            throw VirtioException.invalid("CTRL_RX, CTRL_RX_EXTRA, CTRL_VLAN, CTRL_MAC_ADDR and MQ need CTRL_VQ");
        }
        if (VirtioFeature.has(features, NetSpec.F_CTRL_RX_EXTRA) && !VirtioFeature.has(features, NetSpec.F_CTRL_RX)) {
            throw VirtioException.invalid("CTRL_RX_EXTRA needs CTRL_RX");
        }
    }

    @Override
    protected RequestHandler requestHandler(int q) {
        int layout = layoutPairs();
        if (q == NetSpec.ctrlQueue(layout)) {
            return control;
        }
        return q < 2 * layout ? handlers[q] : unused;
    }

    @Override
    protected void onStart() {
        long features = driverFeatures();
        RxFilter filter = port.filter();
        if (VirtioFeature.has(features, NetSpec.F_CTRL_VLAN) && !filter.vlanFiltering()) {
            // VLAN filtering on, empty: the driver adds the IDs it wants (Linux adds VID 0 at once).
            port.setFilter(filter.withVlanFiltering(true));
        }
        activePairs = 1; // with MQ only pair 0 runs until VQ_PAIRS_SET; without MQ there is one pair
        port.setActivePairs(1);
        port.setReceiving(true);
    }

    @Override
    protected void onStop() {
        port.setReceiving(false);
        // The worker is outside any pass (the device lock is held), so the mailboxes can be emptied here.
        long dropped = 0;
        for (int pair = 0; pair < pairs; pair++) {
            FrameMailbox mailbox = port.mailbox(pair);
            dropped += mailbox == null ? 0 : mailbox.clear();
        }
        flushed.addAndGet(dropped);
    }

    @Override
    protected void onReset() {
        // Like QEMU: a reset restores the configured address and the initial filter.
        port.setFilter(RxFilter.initial(configuredMac));
        activePairs = 1;
        port.setActivePairs(1);
        long mac = configuredMac;
        updateConfig(config -> Ethernet.putAddress(config, NetSpec.CONFIG_MAC, mac));
    }

    /**
     * Changes the station address of the running device (a live attribute update, like vdpa's
     * {@code dev set mac}): config space (with a config interrupt), the receive filter, and the address
     * a reset returns to. Control path.
     */
    void changeMac(long mac) {
        configuredMac = mac;
        port.setFilter(port.filter().withMac(mac));
        updateConfig(config -> Ethernet.putAddress(config, NetSpec.CONFIG_MAC, mac));
        LOG.info("{}: station address changed to {}", name, macText(mac));
    }

    @Override
    public void close() {
        port.setReceiving(false);
        switches.detach(port);
        super.close();
    }

    /** Copies frames from pair {@code pair}'s mailbox into receive buffers; defers while there are none. */
    private final class Receive implements RequestHandler {
        private final int pair;
        private final int queue;

        Receive(int pair) {
            this.pair = pair;
            this.queue = NetSpec.rxQueue(pair);
        }

        @Override
        public int handle(DescriptorChain chain) {
            if (chain.writableLength() < NetSpec.HDR_SIZE) {
                needsReset("rx" + pair + ": a receive buffer of " + chain.writableLength()
                        + " writable bytes cannot hold the virtio-net header");
                return 0;
            }
            FrameMailbox mailbox = port.mailbox(pair); // made at onStart, before any handler runs
            while (true) {
                int length = mailbox.peekLength();
                if (length < 0) {
                    return DEFER;
                }
                long needed = (long) NetSpec.HDR_SIZE + length;
                if (chain.writableLength() < needed) {
                    // Without MRG_RXBUF a frame must fit one buffer; this one does not: drop it, try the next.
                    mailbox.release();
                    counters(queue).drop();
                    continue;
                }
                chain.write(0, rxHeader, 0, NetSpec.HDR_SIZE);
                chain.write(NetSpec.HDR_SIZE, mailbox.buffers(), mailbox.peekOffset(), length);
                mailbox.release();
                return (int) needed;
            }
        }

        @Override
        public String toString() {
            return "rx" + pair;
        }
    }

    /** Checks and strips the header of each transmitted buffer and hands the frame to the port. */
    private final class Transmit implements RequestHandler {
        private final int pair;
        private final int queue;
        private final int maxFrame;
        private final MemorySegment frame;

        Transmit(int pair, int maxFrame) {
            this.pair = pair;
            this.queue = NetSpec.txQueue(pair);
            this.maxFrame = maxFrame;
            this.frame = MemorySegment.ofArray(new byte[maxFrame]);
        }

        @Override
        public int handle(DescriptorChain chain) {
            long total = chain.readableLength();
            if (total < NetSpec.HDR_SIZE) {
                needsReset("tx" + pair + ": a buffer of " + total + " bytes is shorter than the virtio-net header");
                return 0;
            }
            if (chain.readU8(NetSpec.HDR_FLAGS) != 0 || chain.readU8(NetSpec.HDR_GSO_TYPE) != NetSpec.HDR_GSO_NONE) {
                counters(queue).error(); // checksum or segmentation offload was not offered
                return 0;
            }
            long length = total - NetSpec.HDR_SIZE;
            if (length < Ethernet.HEADER_LENGTH) {
                counters(queue).error();
                return 0;
            }
            if (length > maxFrame || pair >= activePairs) {
                counters(queue).drop();
                return 0;
            }
            chain.read(NetSpec.HDR_SIZE, frame, 0, length);
            port.transmit(frame, (int) length);
            return 0;
        }

        @Override
        public String toString() {
            return "tx" + pair;
        }
    }

    /** Answers control commands: copies each, runs it through {@link NetControl}, writes the ack. */
    private final class Control implements RequestHandler, NetControl.Target {
        private final MemorySegment command = MemorySegment.ofArray(new byte[MAX_CTRL_COMMAND]);

        @Override
        public int handle(DescriptorChain chain) {
            if (chain.writableLength() < NetSpec.CTRL_ACK_SIZE) {
                needsReset("ctrl: a command with no device-writable byte for its ack");
                return 0;
            }
            long length = chain.readableLength();
            int ack;
            if (length > MAX_CTRL_COMMAND) {
                ack = NetSpec.CTRL_ERR;
            } else {
                chain.read(0, command, 0, length);
                ack = commands.execute(command, (int) length, driverFeatures(), this);
            }
            (ack == NetSpec.CTRL_OK ? ctrlOk : ctrlErr).incrementAndGet();
            chain.writeU8(0, ack);
            return NetSpec.CTRL_ACK_SIZE;
        }

        @Override
        public RxFilter filter() {
            return port.filter();
        }

        @Override
        public void setFilter(RxFilter filter) {
            port.setFilter(filter);
        }

        @Override
        public void setMac(long mac) {
            updateConfig(config -> Ethernet.putAddress(config, NetSpec.CONFIG_MAC, mac));
        }

        @Override
        public void setQueuePairs(int newPairs) {
            activePairs = newPairs;
            port.setActivePairs(newPairs);
        }
    }

    /** Control commands answered OK. */
    long controlOk() {
        return ctrlOk.get();
    }

    /** Control commands answered ERR. */
    long controlErr() {
        return ctrlErr.get();
    }

    /**
     * Per queue: rx/tx packets (buffers completed), bytes, drops, errors, kicks and interrupts; control
     * commands ok/err; the port's counters of frames refused before a queue saw them; the device status and
     * how often it went NEEDS_RESET.
     */
    @Override
    public Map<String, Long> statistics() {
        Map<String, Long> m = new LinkedHashMap<>();
        int layout = layoutPairs();
        for (int pair = 0; pair < layout; pair++) {
            putQueue(m, "rx" + pair + ".", queueStatistics(NetSpec.rxQueue(pair)));
            putQueue(m, "tx" + pair + ".", queueStatistics(NetSpec.txQueue(pair)));
        }
        putQueue(m, "ctrl.", queueStatistics(NetSpec.ctrlQueue(layout)));
        m.put("ctrl.ok", ctrlOk.get());
        m.put("ctrl.err", ctrlErr.get());
        m.put("port.delivered", port.delivered());
        m.put("port.filtered", port.filtered());
        m.put("port.mailbox_drops", port.mailboxDrops());
        m.put("port.oversize_drops", port.oversizeDrops());
        m.put("port.not_receiving_drops", port.notReceivingDrops());
        m.put("port.flushed", flushed.get());
        m.putAll(deviceStatistics());
        return m;
    }

    private static void putQueue(Map<String, Long> m, String prefix, QueueStatistics s) {
        m.put(prefix + "packets", s.requests());
        m.put(prefix + "bytes", s.bytes());
        m.put(prefix + "drops", s.drops());
        m.put(prefix + "errors", s.errors());
        m.put(prefix + "kicks", s.kicks());
        m.put(prefix + "interrupts", s.interrupts());
    }

    private static String macText(long mac) {
        StringBuilder s = new StringBuilder(17);
        for (int i = Ethernet.ADDRESS_LENGTH - 1; i >= 0; i--) {
            s.append(String.format("%02x", (mac >>> (8 * i)) & 0xff));
            if (i > 0) {
                s.append(':');
            }
        }
        return s.toString();
    }
}

package io.umdev.virtio.driver;

import io.umdev.linux.Errno;
import io.umdev.mdev.MacAddress;
import io.umdev.virtio.spec.NetSpec;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * A virtio-net device driven in process: an Ethernet port with one or more queue pairs. Frames go out
 * with {@link #send} and come in with {@link #receive}; the 12-byte virtio-net header in front of each
 * is written and stripped here (no offloads are negotiated, so it says "no checksum, no GSO"). MAC,
 * MTU, link status and the number of queue pairs come from the config space; the control queue, when
 * the device has one, carries {@link #setQueuePairs}, {@link #setPromiscuous}, {@link #setAllMulticast}
 * and {@link #setMacAddress}.
 *
 * <p>Each pair is used by one thread at a time (its own, if you like); {@code send} and {@code receive}
 * copy between the caller's segment and buffers in the driver's memory and neither lock nor allocate.
 * The receive ring is kept full: each frame taken is replaced by a fresh buffer. Control commands are
 * serialised among themselves and may run beside the data path.
 */
public final class VirtioNetPort implements AutoCloseable {
    /** Ethernet header plus one VLAN tag: a frame is at most MTU plus this. */
    private static final int ETHERNET_OVERHEAD = 14 + 4;
    private static final int DEFAULT_MTU = 1500;
    private static final int BUFFER_ALIGNMENT = 64;
    /** Room for the longest control command's data (MQ pairs, a MAC address, an RX flag). */
    private static final int CTRL_DATA_MAX = 64;

    /** Config bytes the port reads: MAC, status, max_virtqueue_pairs and MTU. */
    private static final int CONFIG_NEEDED = NetSpec.CONFIG_MTU + Short.BYTES;

    private static final long WANTED = VirtioFeature.bits(NetSpec.F_MAC, NetSpec.F_MTU, NetSpec.F_STATUS,
            NetSpec.F_CTRL_VQ, NetSpec.F_CTRL_RX, NetSpec.F_MQ, NetSpec.F_CTRL_MAC_ADDR);

    private final VirtioDriver driver;
    private final int maxPairs;
    private final int mtu;
    private final int bufferSize;
    private final Pair[] pairs;
    private final DriverQueue ctrl;
    private final long ctrlOffset;
    private final BufferChain ctrlChain = new BufferChain(2);
    private volatile int activePairs = 1;
    private volatile MacAddress mac;

    private VirtioNetPort(VirtioDriver driver, int maxPairs, int mtu, int bufferSize, Pair[] pairs, DriverQueue ctrl,
            long ctrlOffset, MacAddress mac) {
        this.driver = driver;
        this.maxPairs = maxPairs;
        this.mtu = mtu;
        this.bufferSize = bufferSize;
        this.pairs = pairs;
        this.ctrl = ctrl;
        this.ctrlOffset = ctrlOffset;
        this.mac = mac;
    }

    /** Opens a virtio-net device with the default options. */
    public static VirtioNetPort open(VirtioDevice device) throws VirtioDriverException {
        return open(device, DriverOptions.defaults());
    }

    /**
     * Opens a virtio-net device: negotiates, reads the config, sets up every queue pair the device
     * offers (one is active until {@link #setQueuePairs}) and the control queue, and fills the receive
     * rings.
     */
    public static VirtioNetPort open(VirtioDevice device, DriverOptions options) throws VirtioDriverException {
        if (device.deviceId() != VirtioId.NET) {
            throw new VirtioDriverException(Errno.ENODEV, "not a network device: virtio ID " + device.deviceId());
        }
        long wanted = WANTED;
        if (!VirtioFeature.has(device.deviceFeatures(), NetSpec.F_CTRL_VQ)) {
            // These depend on the control queue (virtio 5.1.3.1): never ask for them without it.
            wanted &= ~VirtioFeature.bits(NetSpec.F_MQ, NetSpec.F_CTRL_RX, NetSpec.F_CTRL_MAC_ADDR);
        }
        VirtioDriver driver = VirtioDriver.open(device, wanted, options);
        try {
            MemorySegment config = driver.readConfig();
            if (config.byteSize() < CONFIG_NEEDED) {
                throw new VirtioDriverException(Errno.EIO, "the config space has " + config.byteSize()
                        + " bytes, fewer than the " + CONFIG_NEEDED + " up to the MTU");
            }
            int maxPairs = driver.hasFeature(NetSpec.F_MQ) ? Le.u16(config, NetSpec.CONFIG_MAX_VIRTQUEUE_PAIRS) : 1;
            boolean hasCtrl = driver.hasFeature(NetSpec.F_CTRL_VQ);
            int queueCount = 2 * maxPairs + (hasCtrl ? 1 : 0);
            if (maxPairs < NetSpec.CTRL_MQ_VQ_PAIRS_MIN || maxPairs > NetSpec.CTRL_MQ_VQ_PAIRS_MAX
                    || queueCount > device.queueCount()) {
                throw new VirtioDriverException(Errno.EIO, "the device reports " + maxPairs
                        + " queue pairs and has " + device.queueCount() + " queues");
            }
            int mtu = driver.hasFeature(NetSpec.F_MTU) ? Le.u16(config, NetSpec.CONFIG_MTU) : DEFAULT_MTU;
            MacAddress mac = driver.hasFeature(NetSpec.F_MAC) ? macAt(config, NetSpec.CONFIG_MAC) : null;
            int bufferSize = (NetSpec.HDR_SIZE + Math.max(mtu, DEFAULT_MTU) + ETHERNET_OVERHEAD + BUFFER_ALIGNMENT - 1)
                    & -BUFFER_ALIGNMENT;
            long[] rx = new long[maxPairs];
            long[] tx = new long[maxPairs];
            int[] rxSlots = new int[maxPairs];
            int[] txSlots = new int[maxPairs];
            for (int p = 0; p < maxPairs; p++) {
                rxSlots[p] = driver.queueSize(NetSpec.rxQueue(p));
                txSlots[p] = driver.queueSize(NetSpec.txQueue(p));
                rx[p] = driver.reserve((long) rxSlots[p] * bufferSize, BUFFER_ALIGNMENT);
                tx[p] = driver.reserve((long) txSlots[p] * bufferSize, BUFFER_ALIGNMENT);
            }
            long ctrlOffset = hasCtrl ? driver.reserve(NetSpec.CTRL_HDR_SIZE + CTRL_DATA_MAX + NetSpec.CTRL_ACK_SIZE,
                    BUFFER_ALIGNMENT) : -1;
            driver.start(queueCount);
            Pair[] pairs = new Pair[maxPairs];
            for (int p = 0; p < maxPairs; p++) {
                pairs[p] = new Pair(p, driver.queue(NetSpec.rxQueue(p)), driver.queue(NetSpec.txQueue(p)),
                        driver.memory(), rx[p], tx[p], bufferSize);
                pairs[p].fillReceive();
            }
            DriverQueue ctrl = hasCtrl ? driver.queue(NetSpec.ctrlQueue(maxPairs)) : null;
            return new VirtioNetPort(driver, maxPairs, mtu, bufferSize, pairs, ctrl, ctrlOffset, mac);
        } catch (VirtioDriverException | RuntimeException e) {
            driver.close();
            throw e;
        }
    }

    private static MacAddress macAt(MemorySegment config, long offset) {
        long value = 0;
        for (int i = 0; i < NetSpec.MAC_BYTES; i++) {
            value = (value << Byte.SIZE) | Le.u8(config, offset + i);
        }
        return new MacAddress(value);
    }

    /** The driver underneath: features, status, raw queues. */
    public VirtioDriver driver() {
        return driver;
    }

    /** The station address: the device's (config space) or the last one set, or null if it has none. */
    public MacAddress mac() {
        return mac;
    }

    /** The MTU the device reports (1500 if it does not offer MTU). */
    public int mtu() {
        return mtu;
    }

    /** Bytes of frame one buffer holds: longer frames are refused by {@link #send}. */
    public int maxFrameSize() {
        return bufferSize - NetSpec.HDR_SIZE;
    }

    /** True if the link is up (always true when the device does not report STATUS). */
    public boolean linkUp() throws VirtioDriverException {
        if (!driver.hasFeature(NetSpec.F_STATUS)) {
            return true;
        }
        MemorySegment config = driver.readConfig();
        return (Le.u16(config, NetSpec.CONFIG_STATUS) & NetSpec.STATUS_LINK_UP) != 0;
    }

    /** How many queue pairs the device has. */
    public int maxQueuePairs() {
        return maxPairs;
    }

    /** How many pairs carry traffic now (1 until {@link #setQueuePairs}). */
    public int queuePairs() {
        return activePairs;
    }

    /** True if the device has a control queue. */
    public boolean hasControlQueue() {
        return ctrl != null;
    }

    /** Queue pair {@code pair}'s statistics and raw queues. */
    public Pair pair(int pair) {
        return pairs[pair];
    }

    /**
     * Sends one Ethernet frame on {@code pair}; first collects the buffers the device has finished.
     *
     * @return false if the transmit ring is full (try again once the device caught up)
     */
    public boolean send(int pair, MemorySegment frame) {
        return pairs[pair].send(frame);
    }

    /**
     * Takes the next received frame on {@code pair} into {@code dst} and gives the ring a fresh buffer.
     *
     * @return the frame's length (bytes beyond {@code dst}'s size are dropped), or -1 if none is waiting
     */
    public int receive(int pair, MemorySegment dst) {
        return pairs[pair].receive(dst);
    }

    /** Waits until a frame is waiting on {@code pair} or the timeout passes; true if one is. */
    public boolean awaitReceive(int pair, long timeout, TimeUnit unit) throws VirtioDriverException {
        return pairs[pair].rx.await(timeout, unit);
    }

    /** Waits until the device has finished some sent frame on {@code pair}; true if it has. */
    public boolean awaitTransmit(int pair, long timeout, TimeUnit unit) throws VirtioDriverException {
        return pairs[pair].tx.await(timeout, unit);
    }

    // ---------------------------------------------------------------- control queue

    /** Spreads traffic over {@code count} queue pairs (MQ VQ_PAIRS_SET). */
    public void setQueuePairs(int count) throws VirtioDriverException {
        requireFeature(NetSpec.F_MQ, "multiqueue (MQ)");
        if (count < NetSpec.CTRL_MQ_VQ_PAIRS_MIN || count > maxPairs) {
            throw new IllegalArgumentException("queue pairs must be in [1, " + maxPairs + "]: " + count);
        }
        MemorySegment data = MemorySegment.ofArray(new byte[Short.BYTES]);
        Le.u16(data, 0, count);
        command(NetSpec.CTRL_MQ, NetSpec.CTRL_MQ_VQ_PAIRS_SET, data);
        activePairs = count;
    }

    /** Receives every frame, whatever its destination (RX PROMISC). */
    public void setPromiscuous(boolean on) throws VirtioDriverException {
        rxMode(NetSpec.CTRL_RX_PROMISC, on);
    }

    /** Receives every multicast frame (RX ALLMULTI). */
    public void setAllMulticast(boolean on) throws VirtioDriverException {
        rxMode(NetSpec.CTRL_RX_ALLMULTI, on);
    }

    private void rxMode(int command, boolean on) throws VirtioDriverException {
        requireFeature(NetSpec.F_CTRL_RX, "receive filtering (CTRL_RX)");
        MemorySegment data = MemorySegment.ofArray(new byte[1]);
        Le.u8(data, 0, on ? 1 : 0);
        command(NetSpec.CTRL_RX, command, data);
    }

    /** Changes the station address (MAC ADDR_SET). */
    public void setMacAddress(MacAddress address) throws VirtioDriverException {
        requireFeature(NetSpec.F_CTRL_MAC_ADDR, "setting the MAC address (CTRL_MAC_ADDR)");
        byte[] octets = address.octets();
        command(NetSpec.CTRL_MAC, NetSpec.CTRL_MAC_ADDR_SET, MemorySegment.ofArray(octets));
        mac = address;
    }

    private void requireFeature(int bit, String what) throws VirtioDriverException {
        if (ctrl == null || !driver.hasFeature(bit)) {
            throw new VirtioDriverException(Errno.EOPNOTSUPP, "the device does not offer " + what);
        }
    }

    /**
     * Sends one control command and waits for the device's ack.
     *
     * @throws VirtioDriverException EIO if the device answered anything but OK, ETIMEDOUT if it did not
     *     answer in time, EOPNOTSUPP if there is no control queue
     */
    public synchronized void command(int commandClass, int command, MemorySegment data) throws VirtioDriverException {
        if (ctrl == null) {
            throw new VirtioDriverException(Errno.EOPNOTSUPP, "the device has no control queue");
        }
        if (data.byteSize() > CTRL_DATA_MAX) {
            throw new IllegalArgumentException("control data holds at most " + CTRL_DATA_MAX + " bytes");
        }
        DriverMemory memory = driver.memory();
        MemorySegment mem = memory.segment();
        long header = ctrlOffset;
        int readable = NetSpec.CTRL_HDR_SIZE + (int) data.byteSize();
        long ack = header + readable;
        Le.u8(mem, header + NetSpec.CTRL_HDR_CLASS, commandClass);
        Le.u8(mem, header + NetSpec.CTRL_HDR_COMMAND, command);
        MemorySegment.copy(data, 0, mem, header + NetSpec.CTRL_HDR_SIZE, data.byteSize());
        // Anything but the device's answer reads as an error.
        Le.u8(mem, ack, NetSpec.CTRL_ERR);
        ctrlChain.clear().readable(memory.iovaOf(header), readable).writable(memory.iovaOf(ack), NetSpec.CTRL_ACK_SIZE);
        String what = "control command " + commandClass + "/" + command;
        if (!ctrl.add(ctrlChain, 0)) {
            ctrl.checkHealthy();
            throw new VirtioDriverException(Errno.EIO, what + ": the control queue takes no command");
        }
        ctrl.kick();
        if (!ctrl.await(driver.options().timeout().toNanos(), TimeUnit.NANOSECONDS)) {
            throw new VirtioDriverException(Errno.ETIMEDOUT, what + ": no answer within " + driver.options().timeout());
        }
        if (ctrl.poll() == DriverQueue.NONE) {
            ctrl.checkHealthy();
            throw new VirtioDriverException(Errno.EIO, what + ": the device returned nothing");
        }
        int answer = Le.u8(mem, ack);
        if (answer != NetSpec.CTRL_OK) {
            throw new VirtioDriverException(Errno.EIO, what + ": the device answered " + answer + " (not OK)");
        }
    }

    /** Resets the device and releases the driver's memory and fds. */
    @Override
    public void close() {
        driver.close();
    }

    /**
     * One receive and transmit queue with their buffers: slot {@code i} of each queue is buffer
     * {@code i} of its area, and the slot is the token the ring hands back.
     */
    public static final class Pair {
        private final int index;
        private final DriverQueue rx;
        private final DriverQueue tx;
        private final DriverMemory memory;
        private final MemorySegment mem;
        private final long rxArea;
        private final long txArea;
        private final int bufferSize;
        private final int[] txFree;
        private int txFreeCount;
        private final BufferChain chain = new BufferChain(1);
        private long txFrames;
        private long txBytes;
        private long txFull;
        private long rxFrames;
        private long rxBytes;
        private long rxErrors;

        Pair(int index, DriverQueue rx, DriverQueue tx, DriverMemory memory, long rxArea, long txArea, int bufferSize) {
            this.index = index;
            this.rx = rx;
            this.tx = tx;
            this.memory = memory;
            this.mem = memory.segment();
            this.rxArea = rxArea;
            this.txArea = txArea;
            this.bufferSize = bufferSize;
            this.txFree = new int[tx.size()];
            for (int i = 0; i < txFree.length; i++) {
                txFree[i] = txFree.length - 1 - i;
            }
            this.txFreeCount = txFree.length;
        }

        /** Offers every receive buffer to the device. */
        void fillReceive() {
            for (int slot = 0; slot < rx.size(); slot++) {
                postReceive(slot);
            }
            rx.kick();
        }

        private void postReceive(int slot) {
            chain.clear().writable(memory.iovaOf(rxArea + (long) slot * bufferSize), bufferSize);
            rx.add(chain, slot);
        }

        boolean send(MemorySegment frame) {
            long length = frame.byteSize();
            if (length <= 0 || length > bufferSize - NetSpec.HDR_SIZE) {
                throw new IllegalArgumentException("a frame is 1 to " + (bufferSize - NetSpec.HDR_SIZE) + " bytes: "
                        + length);
            }
            reclaimTransmit();
            if (txFreeCount == 0) {
                txFull++;
                return false;
            }
            int slot = txFree[txFreeCount - 1];
            long at = txArea + (long) slot * bufferSize;
            // No offloads negotiated: an all-zero header (no checksum to fill, no GSO, one buffer).
            for (int i = 0; i < NetSpec.HDR_SIZE; i++) {
                Le.u8(mem, at + i, 0);
            }
            MemorySegment.copy(frame, 0, mem, at + NetSpec.HDR_SIZE, length);
            chain.clear().readable(memory.iovaOf(at), NetSpec.HDR_SIZE + (int) length);
            if (!tx.add(chain, slot)) {
                txFull++;
                return false;
            }
            txFreeCount--;
            tx.kick();
            txFrames++;
            txBytes += length;
            return true;
        }

        /** Takes back the transmit buffers the device has finished with. */
        public int reclaimTransmit() {
            int n = 0;
            int slot;
            while ((slot = tx.poll()) != DriverQueue.NONE) {
                txFree[txFreeCount++] = slot;
                n++;
            }
            return n;
        }

        int receive(MemorySegment dst) {
            while (true) {
                int slot = rx.poll();
                if (slot == DriverQueue.NONE) {
                    return -1;
                }
                int written = rx.usedLength();
                long at = rxArea + (long) slot * bufferSize;
                if (written < NetSpec.HDR_SIZE) {
                    rxErrors++;
                    postReceive(slot);
                    rx.kick();
                    continue;
                }
                int length = written - NetSpec.HDR_SIZE;
                MemorySegment.copy(mem, at + NetSpec.HDR_SIZE, dst, 0, Math.min(length, dst.byteSize()));
                postReceive(slot);
                rx.kick();
                rxFrames++;
                rxBytes += length;
                return length;
            }
        }

        public int index() {
            return index;
        }

        /** The receive virtqueue (counters, interrupt control). */
        public DriverQueue receiveQueue() {
            return rx;
        }

        /** The transmit virtqueue. */
        public DriverQueue transmitQueue() {
            return tx;
        }

        public long txFrames() {
            return txFrames;
        }

        public long txBytes() {
            return txBytes;
        }

        /** Sends refused because the ring was full. */
        public long txFull() {
            return txFull;
        }

        public long rxFrames() {
            return rxFrames;
        }

        public long rxBytes() {
            return rxBytes;
        }

        /** Receive buffers the device returned too short to hold a header. */
        public long rxErrors() {
            return rxErrors;
        }
    }
}

package io.umdev.simnet.l2;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One device's attachment to the network: where its transmitted frames go (back to itself in loopback,
 * or into a {@link LearningSwitch}) and where frames for it wait until its receive queues take them.
 *
 * <p>Frames for the device pass its {@link RxFilter}, pick a receive queue pair by a flow hash among
 * the pairs in use, and are copied into that pair's {@link FrameMailbox}; then the {@link Receiver} is
 * told, so the device's worker copies them into receive descriptors. A full mailbox, a frame too large
 * for this device's MTU, or a device not receiving (driver not ready, link down) drops the frame and
 * counts it. Delivery never blocks the sender and allocates nothing.
 */
public final class Port {
    /** Told, on the sender's thread, that a frame waits in a pair's mailbox. Must be cheap and never block. */
    @FunctionalInterface
    public interface Receiver {
        void frameQueued(int queuePair);
    }

    private final String name;
    /** Made at the first {@link #setReceiving(boolean) setReceiving(true)}, published by that volatile write. */
    private final FrameMailbox[] mailboxes;
    private final int mailboxSlots;
    private final int maxFrameLength;
    private final Receiver receiver;
    private final boolean loopback;
    private volatile RxFilter filter;
    private volatile int activePairs = 1;
    private volatile boolean receiving;
    /** Set by the switch while attached. */
    volatile LearningSwitch attachedTo;
    volatile int id = -1;

    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong filtered = new AtomicLong();
    private final AtomicLong mailboxDrops = new AtomicLong();
    private final AtomicLong oversizeDrops = new AtomicLong();
    private final AtomicLong notReceivingDrops = new AtomicLong();

    /**
     * @param name for logs and statistics
     * @param queuePairs receive queues, one mailbox each
     * @param mailboxSlots frames each mailbox holds, a power of two
     * @param mtu this device's MTU: larger frames are not delivered to it
     * @param loopback whether transmitted frames come back to this port rather than going to a switch
     */
    public Port(String name, int queuePairs, int mailboxSlots, int mtu, boolean loopback, RxFilter filter,
            Receiver receiver) {
        this.name = Objects.requireNonNull(name, "name");
        if (queuePairs < 1) {
            throw new IllegalArgumentException("queuePairs must be positive: " + queuePairs);
        }
        this.maxFrameLength = Ethernet.maxFrameLength(mtu);
        if (mailboxSlots < 1 || Integer.bitCount(mailboxSlots) != 1) {
            throw new IllegalArgumentException("mailboxSlots must be a power of two: " + mailboxSlots);
        }
        this.mailboxes = new FrameMailbox[queuePairs];
        this.mailboxSlots = mailboxSlots;
        this.loopback = loopback;
        this.filter = Objects.requireNonNull(filter, "filter");
        this.receiver = Objects.requireNonNull(receiver, "receiver");
    }

    public String name() {
        return name;
    }

    public boolean isLoopback() {
        return loopback;
    }

    /** The switch this port is attached to, or null. */
    public LearningSwitch attachedTo() {
        return attachedTo;
    }

    /** The largest frame this port carries: header, 802.1Q tag and MTU. */
    public int maxFrameLength() {
        return maxFrameLength;
    }

    /**
     * Sends a frame from this device: back to itself in loopback, else to the switch (nowhere while
     * detached). The caller has checked it against {@link #maxFrameLength()} and the Ethernet header.
     */
    public void transmit(MemorySegment frame, int length) {
        if (loopback) {
            deliver(frame, length);
            return;
        }
        LearningSwitch fabric = attachedTo;
        if (fabric != null) {
            fabric.forward(this, frame, length);
        }
    }

    /**
     * Offers a frame (at least an Ethernet header long) to this device: the filter, then a mailbox.
     * Any thread.
     *
     * @return whether the frame was queued
     */
    public boolean deliver(MemorySegment frame, int length) {
        if (!receiving) {
            notReceivingDrops.incrementAndGet();
            return false;
        }
        if (length > maxFrameLength) {
            oversizeDrops.incrementAndGet();
            return false;
        }
        if (!filter.accepts(frame, length)) {
            filtered.incrementAndGet();
            return false;
        }
        int pairs = activePairs;
        int pair = pairs == 1 ? 0 : Math.floorMod(Ethernet.flowHash(frame), pairs);
        if (!mailboxes[pair].offer(frame, 0, length)) {
            mailboxDrops.incrementAndGet();
            return false;
        }
        delivered.incrementAndGet();
        receiver.frameQueued(pair);
        return true;
    }

    /**
     * The mailbox of receive queue pair {@code pair}; its frames are taken by that queue only. Null
     * until the port first receives.
     */
    public FrameMailbox mailbox(int pair) {
        return mailboxes[pair];
    }

    public int queuePairs() {
        return mailboxes.length;
    }

    public RxFilter filter() {
        return filter;
    }

    /** Publishes a new receive filter (control path). */
    public void setFilter(RxFilter newFilter) {
        filter = Objects.requireNonNull(newFilter, "newFilter");
    }

    /** How many pairs carry traffic (the MQ VQ_PAIRS_SET value), 1..{@link #queuePairs()}. */
    public void setActivePairs(int pairs) {
        if (pairs < 1 || pairs > mailboxes.length) {
            throw new IllegalArgumentException("pairs must be 1.." + mailboxes.length + ": " + pairs);
        }
        activePairs = pairs;
    }

    public int activePairs() {
        return activePairs;
    }

    /**
     * Whether frames are accepted: the device's driver is ready. Off drops frames at the door. The first
     * time it is turned on the mailboxes are made, so a device no driver ever started holds no frame
     * buffers. Control path.
     */
    public synchronized void setReceiving(boolean on) {
        if (on && mailboxes[0] == null) {
            for (int i = 0; i < mailboxes.length; i++) {
                mailboxes[i] = new FrameMailbox(mailboxSlots, maxFrameLength);
            }
        }
        receiving = on; // publishes the mailboxes to senders, who read this first
    }

    public boolean receiving() {
        return receiving;
    }

    /** Frames queued for this device. */
    public long delivered() {
        return delivered.get();
    }

    /** Frames the receive filter refused. */
    public long filtered() {
        return filtered.get();
    }

    /** Frames dropped because the pair's mailbox was full. */
    public long mailboxDrops() {
        return mailboxDrops.get();
    }

    /** Frames dropped for exceeding this device's MTU. */
    public long oversizeDrops() {
        return oversizeDrops.get();
    }

    /** Frames dropped because the device was not receiving. */
    public long notReceivingDrops() {
        return notReceivingDrops.get();
    }

    @Override
    public String toString() {
        return "port " + name + (loopback ? " (loopback)" : attachedTo != null ? " on switch " + attachedTo.name() : "");
    }
}

package io.umdev.simnet.l2;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A learning L2 switch between ports: it learns which port each source address sits behind, sends a
 * frame for a known unicast address to that port alone, and floods unknown unicast, broadcast and
 * multicast frames to every other port. Addresses age out after {@link #agingMillis()}. A frame for an
 * address learned on the sending port itself is filtered (it is already on that segment).
 *
 * <p>{@link #forward} runs on the senders' threads, concurrently, with no lock and no allocation: the
 * port list is an array replaced whole when a port comes or goes (control path, under this object's
 * lock), and the MAC table is a lock-free {@link ForwardingTable}.
 */
public final class LearningSwitch {
    /** The Linux bridge's default ageing time. */
    public static final long DEFAULT_AGING_MILLIS = 300_000;
    /** Ports one switch holds. */
    public static final int MAX_PORTS = 4096;
    private static final int TABLE_SLOTS = 8192;
    private static final long NANOS_PER_MILLI = 1_000_000;

    private static final Logger LOG = LoggerFactory.getLogger(LearningSwitch.class);

    private final String name;
    private final long agingMillis;
    private final LongSupplier nanoClock;
    private final ForwardingTable table;
    /** Indexed by port number; null where free. Replaced, never changed in place. */
    private volatile Port[] ports = new Port[0];
    private int portCount;

    private final AtomicLong unicastForwarded = new AtomicLong();
    private final AtomicLong flooded = new AtomicLong();
    private final AtomicLong sameSegment = new AtomicLong();

    public LearningSwitch(String name) {
        this(name, DEFAULT_AGING_MILLIS, System::nanoTime);
    }

    /**
     * @param agingMillis how long an address stays learned without a frame from it
     * @param nanoClock a monotonic clock in nanoseconds ({@link System#nanoTime} but in tests)
     */
    public LearningSwitch(String name, long agingMillis, LongSupplier nanoClock) {
        this.name = Objects.requireNonNull(name, "name");
        this.agingMillis = agingMillis;
        this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
        this.table = new ForwardingTable(TABLE_SLOTS, agingMillis);
    }

    public String name() {
        return name;
    }

    public long agingMillis() {
        return agingMillis;
    }

    /**
     * Connects a port, giving it the lowest free port number.
     *
     * @throws IllegalStateException if the port is attached somewhere or is a loopback port, or the switch is full
     */
    public synchronized void attach(Port port) {
        if (port.isLoopback() || port.attachedTo != null) {
            throw new IllegalStateException(port + " cannot be attached to switch " + name);
        }
        Port[] current = ports;
        int free = 0;
        while (free < current.length && current[free] != null) {
            free++;
        }
        if (free >= MAX_PORTS) {
            throw new IllegalStateException("switch " + name + " has all its " + MAX_PORTS + " ports in use");
        }
        Port[] next = Arrays.copyOf(current, Math.max(current.length, free + 1));
        next[free] = port;
        port.id = free;
        port.attachedTo = this;
        table.forgetPort(free);
        ports = next;
        portCount++;
        LOG.debug("switch {}: {} attached as port {}", name, port.name(), free);
    }

    /** Disconnects a port; frames in flight to it may still arrive in its mailboxes. */
    public synchronized void detach(Port port) {
        if (port.attachedTo != this) {
            return;
        }
        Port[] next = ports.clone();
        next[port.id] = null;
        int length = next.length;
        while (length > 0 && next[length - 1] == null) {
            length--;
        }
        ports = Arrays.copyOf(next, length);
        table.forgetPort(port.id);
        port.attachedTo = null;
        LOG.debug("switch {}: {} detached from port {}", name, port.name(), port.id);
        port.id = -1;
        portCount--;
    }

    /** Ports attached. */
    public synchronized int portCount() {
        return portCount;
    }

    /**
     * Switches one frame from {@code from}: learns its source, then delivers it to the destination's
     * port or floods it. The frame is at least an Ethernet header long.
     */
    public void forward(Port from, MemorySegment frame, int length) {
        long now = nanoClock.getAsLong() / NANOS_PER_MILLI;
        int fromId = from.id;
        if (fromId < 0) {
            return; // detached meanwhile
        }
        long source = Ethernet.source(frame);
        if (!Ethernet.isGroup(source) && source != 0) {
            table.learn(source, fromId, now);
        }
        long destination = Ethernet.destination(frame);
        Port[] current = ports;
        if (!Ethernet.isGroup(destination)) {
            int to = table.lookup(destination, now);
            if (to >= 0 && to < current.length && current[to] != null) {
                if (to == fromId) {
                    sameSegment.incrementAndGet();
                } else {
                    unicastForwarded.incrementAndGet();
                    current[to].deliver(frame, length);
                }
                return;
            }
        }
        flooded.incrementAndGet();
        for (int i = 0; i < current.length; i++) {
            Port port = current[i];
            if (port != null && i != fromId) {
                port.deliver(frame, length);
            }
        }
    }

    /** The port {@code mac} is known on, or {@link ForwardingTable#UNKNOWN}. */
    public int portOf(long mac) {
        return table.lookup(mac, nanoClock.getAsLong() / NANOS_PER_MILLI);
    }

    /** Live MAC table entries. */
    public int learnedAddresses() {
        return table.size(nanoClock.getAsLong() / NANOS_PER_MILLI);
    }

    /** Frames sent to the one port their destination was learned on. */
    public long unicastForwarded() {
        return unicastForwarded.get();
    }

    /** Frames sent to every other port: broadcast, multicast, or an unknown destination. */
    public long flooded() {
        return flooded.get();
    }

    /** Frames whose destination sits behind the port they came from, so not forwarded. */
    public long sameSegment() {
        return sameSegment.get();
    }

    @Override
    public String toString() {
        return "switch " + name;
    }
}

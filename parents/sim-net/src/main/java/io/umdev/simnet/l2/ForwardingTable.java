package io.umdev.simnet.l2;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A learning switch's MAC table: address to port, learned from the source addresses of frames,
 * forgotten after an ageing time. Read and written by every sender's thread at once without a lock and
 * without allocating: an open-addressing hash table of {@code long}s with a bounded probe.
 *
 * <p>A slot holds a key (the 48-bit address, or {@link #EMPTY}) and a value packing the port number and
 * the time the address was last seen. A slot whose entry has aged out is reused for another address; a
 * lookup that finds no live entry within the probe window answers "unknown", and the caller floods.
 * Two senders learning one new address in the same instant may both insert it; the duplicate is
 * harmless (both name the same port) and ages out.
 */
public final class ForwardingTable {
    /** No port: the address is unknown or its entry aged out. */
    public static final int UNKNOWN = -1;

    private static final long EMPTY = -1; // not a 48-bit address
    private static final int PROBES = 16;
    private static final int TIME_BITS = 40;
    private static final long TIME_MASK = (1L << TIME_BITS) - 1;
    /** How fresh an entry's time must be before a frame from the same port skips rewriting it. */
    private static final long REFRESH_MILLIS = 1000;

    private final int mask;
    private final long agingMillis;
    private final AtomicLongArray keys;
    /** (port + 1) << TIME_BITS | last seen in ms; 0 = no entry. */
    private final AtomicLongArray values;

    /**
     * @param capacity slots, a power of two
     * @param agingMillis how long an address stays known without a frame from it
     */
    public ForwardingTable(int capacity, long agingMillis) {
        if (capacity < PROBES || Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("capacity must be a power of two of at least " + PROBES + ": " + capacity);
        }
        if (agingMillis < 1) {
            throw new IllegalArgumentException("agingMillis must be positive: " + agingMillis);
        }
        this.mask = capacity - 1;
        this.agingMillis = agingMillis;
        this.keys = new AtomicLongArray(capacity);
        this.values = new AtomicLongArray(capacity);
        for (int i = 0; i < capacity; i++) {
            keys.set(i, EMPTY);
        }
    }

    private int home(long mac) {
        return (int) ((mac * 0x9E37_79B9_7F4A_7C15L) >>> 40) & mask;
    }

    private boolean live(long value, long nowMillis) {
        return value != 0 && ((nowMillis - (value & TIME_MASK)) & TIME_MASK) < agingMillis;
    }

    private static long pack(int port, long nowMillis) {
        return ((long) (port + 1) << TIME_BITS) | (nowMillis & TIME_MASK);
    }

    /** Records that {@code mac} was seen on {@code port} (0..65534) at {@code nowMillis}. */
    public void learn(long mac, int port, long nowMillis) {
        int reusable = -1;
        int index = home(mac);
        for (int probe = 0; probe < PROBES; probe++, index = (index + 1) & mask) {
            long key = keys.getAcquire(index);
            if (key == mac) {
                long value = values.getAcquire(index);
                if (value >>> TIME_BITS != port + 1 || ((nowMillis - (value & TIME_MASK)) & TIME_MASK) >= REFRESH_MILLIS) {
                    values.setRelease(index, pack(port, nowMillis));
                }
                return;
            }
            if (key == EMPTY) {
                if (reusable < 0) {
                    reusable = index;
                }
                break; // the address is not further along
            }
            if (reusable < 0 && !live(values.getAcquire(index), nowMillis)) {
                reusable = index;
            }
        }
        if (reusable < 0) {
            return; // the window is full of live entries: this address stays unknown and is flooded to
        }
        long old = keys.getAcquire(reusable);
        if (old == EMPTY || !live(values.getAcquire(reusable), nowMillis)) {
            if (keys.compareAndSet(reusable, old, mac)) {
                // Key first: a lookup of the new address meanwhile sees the stale value and floods.
                values.setRelease(reusable, pack(port, nowMillis));
            }
        }
    }

    /** The port {@code mac} was last seen on, or {@link #UNKNOWN}. */
    public int lookup(long mac, long nowMillis) {
        int index = home(mac);
        for (int probe = 0; probe < PROBES; probe++, index = (index + 1) & mask) {
            long key = keys.getAcquire(index);
            if (key == mac) {
                long value = values.getAcquire(index);
                return live(value, nowMillis) ? (int) (value >>> TIME_BITS) - 1 : UNKNOWN;
            }
            if (key == EMPTY) {
                return UNKNOWN;
            }
        }
        return UNKNOWN;
    }

    /** Forgets every address learned on {@code port}: it is going away, and its number will be reused. */
    public void forgetPort(int port) {
        for (int i = 0; i <= mask; i++) {
            long value = values.getAcquire(i);
            if (value != 0 && value >>> TIME_BITS == port + 1) {
                values.compareAndSet(i, value, 0);
            }
        }
    }

    /** Live entries at {@code nowMillis}; a scan, for statistics and tests. */
    public int size(long nowMillis) {
        int live = 0;
        for (int i = 0; i <= mask; i++) {
            if (keys.getAcquire(i) != EMPTY && live(values.getAcquire(i), nowMillis)) {
                live++;
            }
        }
        return live;
    }
}

package io.umdev.virtio.driver;

import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.LinuxException;
import io.umdev.linux.OwnedFd;
import io.umdev.linux.Poll;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver side of one virtqueue, over rings in the driver's own memory: offer buffers
 * ({@link #add}), tell the device ({@link #kick}), collect what it used ({@link #poll}), and wait for
 * it ({@link #await}). Split and packed rings behave the same behind this API.
 *
 * <p>One thread at a time per queue, like a DPDK queue: nothing here locks or allocates. Each buffer
 * carries a caller-chosen token (a non-negative int, e.g. a request slot) that {@link #poll} hands
 * back. The device is hostile too: a used entry naming a buffer not in flight, or claiming more bytes
 * than the buffer had room for, marks the queue broken ({@link #brokenReason()}) instead of being
 * believed.
 */
public abstract sealed class DriverQueue permits SplitDriverQueue, PackedDriverQueue {
    private static final Logger LOG = LoggerFactory.getLogger(DriverQueue.class);

    /** What {@link #poll} answers when nothing has been used. */
    public static final int NONE = -1;

    /** Ring areas start on cache lines, so the two sides' hot fields do not share one. */
    static final int AREA_ALIGNMENT = 64;

    /** Polling waits spin this often before they start parking. */
    private static final int SPINS = 200;
    private static final long MIN_PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(20);
    private static final long MAX_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    /** An eventfd wait looks at the device status at least this often. */
    private static final int STATUS_CHECK_MILLIS = 100;

    final VirtioDevice device;
    final int index;
    final int size;
    final MemorySegment memory;
    final long memoryIova;
    final boolean eventIndex;
    /** Offset of this queue's indirect tables in the driver memory; entries per table (0: no indirect). */
    final long indirectOffset;
    final int indirectEntries;
    final int[] tokens;
    /** Bytes the device may write into each buffer in flight, to check the lengths it reports. */
    final long[] writableBytes;
    final boolean[] inFlightIds;

    private final InterruptMode interruptMode;
    private final EventFd interruptFd;

    int usedLength;
    /** The used position callback mode last armed the interrupt at. */
    private int armedAt = -1;
    private String broken;
    private long added;
    private long completed;
    private long kicks;
    private long suppressedKicks;
    private long wakeups;

    DriverQueue(VirtioDevice device, int index, int size, DriverMemory memory, boolean eventIndex,
            long indirectOffset, int indirectEntries, InterruptMode interruptMode, EventFd interruptFd) {
        this.device = device;
        this.index = index;
        this.size = size;
        this.memory = memory.segment();
        this.memoryIova = memory.iova();
        this.eventIndex = eventIndex;
        this.indirectOffset = indirectOffset;
        this.indirectEntries = indirectEntries;
        this.interruptMode = interruptMode;
        this.interruptFd = interruptFd;
        this.tokens = new int[size];
        this.writableBytes = new long[size];
        this.inFlightIds = new boolean[size];
    }

    /** The queue's index on the device. */
    public int index() {
        return index;
    }

    /** How many descriptors the ring has. */
    public int size() {
        return size;
    }

    /** Offset in the driver memory of the area the device writes used entries into (tests fake a hostile device there). */
    abstract long usedAreaOffset();

    /** True for a packed ring. */
    public abstract boolean packed();

    /** Descriptors free now (an indirect buffer takes one, a direct one takes one per segment). */
    public abstract int freeDescriptors();

    /** Buffers offered and not yet used. */
    public abstract int inFlightCount();

    /** True if a buffer of {@code segments} segments fits now. */
    public boolean canAdd(int segments) {
        return broken == null && freeDescriptors() >= descriptorsFor(segments) && inFlightCount() < size;
    }

    int descriptorsFor(int segments) {
        return useIndirect(segments) ? 1 : segments;
    }

    boolean useIndirect(int segments) {
        return segments > 1 && segments <= indirectEntries;
    }

    /**
     * Offers {@code chain} to the device, to be handed back by {@link #poll} with {@code token}. The
     * device sees it at once; call {@link #kick} after a batch.
     *
     * @return false if the ring has no room (or the queue is broken): poll, then try again
     */
    public final boolean add(BufferChain chain, int token) {
        if (token < 0) {
            throw new IllegalArgumentException("tokens are non-negative: " + token);
        }
        int segments = chain.count();
        if (segments == 0) {
            throw new IllegalArgumentException("an empty buffer chain");
        }
        if (segments > size && !useIndirect(segments)) {
            throw new IllegalArgumentException(segments + " segments can never fit a ring of " + size);
        }
        if (broken != null || !addChain(chain, token)) {
            return false;
        }
        added++;
        return true;
    }

    abstract boolean addChain(BufferChain chain, int token);

    /**
     * Notifies the device of the buffers added since the last kick, unless it asked not to be
     * (NO_NOTIFY, event index, packed event suppression).
     *
     * @return true if the doorbell was rung
     */
    public final boolean kick() {
        if (!hasUnnotified()) {
            return false;
        }
        if (!needsKickNow()) {
            suppressedKicks++;
            return false;
        }
        device.kick(index);
        kicks++;
        return true;
    }

    /** True if buffers were added since the last kick decision. */
    abstract boolean hasUnnotified();

    /** Decides whether the device wants a doorbell for the buffers added since the last decision. */
    abstract boolean needsKickNow();

    /**
     * The token of the next buffer the device used, or {@link #NONE}; its written length is then
     * {@link #usedLength()}.
     */
    public final int poll() {
        if (broken != null) {
            return NONE;
        }
        int token = pollUsed();
        if (token == NONE && interruptMode == InterruptMode.CALLBACK && rearm()) {
            // Used while the interrupt was being re-armed: the device may not call back for it.
            token = pollUsed();
        }
        if (token != NONE) {
            completed++;
        }
        return token;
    }

    /**
     * Callback mode keeps interrupts on: under event index that means moving the event index up to what
     * the driver has seen, each time it has seen everything. Returns true if something is pending.
     */
    private boolean rearm() {
        int position = usedPosition();
        if (position == armedAt) {
            return false;
        }
        armedAt = position;
        return enableInterrupts();
    }

    /** Sets the ring's interrupt wishes for the mode: called once the subclass is constructed. */
    final void applyInterruptMode() {
        if (interruptMode == InterruptMode.CALLBACK) {
            rearm();
        } else {
            // Polling never wants interrupts; eventfd mode wants them only while someone waits.
            disableInterrupts();
        }
    }

    /** Where the driver will look for the next used entry (index, with the wrap counter for packed rings). */
    abstract int usedPosition();

    abstract int pollUsed();

    /** Bytes the device wrote into the buffer last returned by {@link #poll}. */
    public int usedLength() {
        return usedLength;
    }

    /** True if {@link #poll} has something to return. */
    public abstract boolean hasUsed();

    /**
     * Asks the device to interrupt when it uses a buffer. Returns true if something was used already
     * (check again before sleeping: the device may have raced the request).
     */
    public abstract boolean enableInterrupts();

    /** Asks the device not to interrupt (it may still do so once under event index). */
    public abstract void disableInterrupts();

    /**
     * Waits until a used buffer is ready or the timeout passes, by the queue's interrupt mode.
     *
     * @return true if {@link #poll} has something
     * @throws VirtioDriverException if the queue is broken or the device needs a reset
     */
    public final boolean await(long timeout, TimeUnit unit) throws VirtioDriverException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        if (interruptMode == InterruptMode.EVENTFD && interruptFd != null) {
            return awaitInterrupt(deadline);
        }
        return awaitPolling(deadline);
    }

    private boolean awaitInterrupt(long deadline) throws VirtioDriverException {
        while (true) {
            if (hasUsed()) {
                return true;
            }
            checkHealthy();
            if (enableInterrupts()) {
                disableInterrupts();
                continue;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                disableInterrupts();
                return hasUsed();
            }
            int millis = (int) Math.min(STATUS_CHECK_MILLIS, Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            waitForSignal(millis);
            disableInterrupts();
        }
    }

    private void waitForSignal(int millis) throws VirtioDriverException {
        OwnedFd fd = interruptFd.fd();
        if (!fd.acquire()) {
            throw new VirtioDriverException(Errno.EBADF, "queue " + index + ": the driver is closed");
        }
        try {
            if (Poll.poll(fd.fd(), Poll.POLLIN, millis) != 0 && interruptFd.read() != 0) {
                wakeups++;
            }
        } catch (LinuxException e) {
            throw new VirtioDriverException(e.errno(), "queue " + index + ": waiting for an interrupt: "
                    + e.getMessage());
        } finally {
            fd.release();
        }
    }

    private boolean awaitPolling(long deadline) throws VirtioDriverException {
        long park = MIN_PARK_NANOS;
        int spins = 0;
        while (true) {
            if (hasUsed()) {
                return true;
            }
            if (spins < SPINS) {
                spins++;
                Thread.onSpinWait();
                continue;
            }
            checkHealthy();
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return hasUsed();
            }
            LockSupport.parkNanos(Math.min(park, left));
            park = Math.min(park * 2, MAX_PARK_NANOS);
        }
    }

    /**
     * Throws if this queue is broken or the device has given up (NEEDS_RESET or FAILED).
     */
    public void checkHealthy() throws VirtioDriverException {
        if (broken != null) {
            throw new VirtioDriverException(Errno.EIO, "queue " + index + " is broken: " + broken);
        }
        int status = device.status();
        if (DeviceStatus.has(status, DeviceStatus.NEEDS_RESET) || DeviceStatus.has(status, DeviceStatus.FAILED)) {
            throw new VirtioDriverException(Errno.EIO, "queue " + index + ": the device needs a reset (status "
                    + DeviceStatus.describe(status) + ")");
        }
    }

    /** Why the queue stopped trusting the device, or null if it has not. */
    public String brokenReason() {
        return broken;
    }

    public boolean isBroken() {
        return broken != null;
    }

    /** Refuses the device's ring from now on; the reason is logged once and kept. */
    final void markBroken(String why) {
        if (broken == null) {
            broken = why;
            LOG.warn("queue {}: the device broke the ring protocol: {}", index, why);
        }
    }

    /** Checks a used entry the device wrote: a buffer in flight, a length within what it could hold. */
    final boolean acceptUsed(int id, long length) {
        if (id < 0 || id >= size || !inFlightIds[id]) {
            markBroken("used entry names buffer " + id + ", which is not in flight");
            return false;
        }
        if (length > writableBytes[id]) {
            markBroken("used entry for buffer " + id + " claims " + length + " bytes written into "
                    + writableBytes[id] + " writable bytes");
            return false;
        }
        return true;
    }

    /** Buffers offered since the queue started. */
    public long added() {
        return added;
    }

    /** Buffers collected since the queue started. */
    public long completed() {
        return completed;
    }

    /** Doorbells rung. */
    public long kicks() {
        return kicks;
    }

    /** Kicks the device asked the driver to skip. */
    public long suppressedKicks() {
        return suppressedKicks;
    }

    /** Waits ended by an interrupt (eventfd mode). */
    public long wakeups() {
        return wakeups;
    }

    @Override
    public String toString() {
        return (packed() ? "packed" : "split") + " queue " + index + " of " + size;
    }
}

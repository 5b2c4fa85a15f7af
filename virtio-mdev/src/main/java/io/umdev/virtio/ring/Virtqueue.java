package io.umdev.virtio.ring;

import io.umdev.linux.Errno;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.transport.DirtyLog;
import io.umdev.vfiouser.dma.DmaDirection;
import io.umdev.vfiouser.dma.DmaException;
import io.umdev.vfiouser.dma.DmaRegion;
import io.umdev.vfiouser.dma.DmaTable;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * The device side of one virtqueue over a DMA table: split ({@link SplitVirtqueue}) or packed
 * ({@link PackedVirtqueue}) behind one API.
 *
 * <p>Life: {@link #configure} (size, ring addresses, negotiated features) while inactive;
 * {@link #activate} resolves and validates the ring areas once; then the queue's single worker thread
 * runs passes of {@link #begin()}, {@link #pop()} / {@link #push} as often as it likes,
 * {@link #needsInterrupt()}, {@link #end()}. {@link #deactivate()} stops it (control path, with the
 * worker out of its pass).
 *
 * <p>Hostile rings: anything the driver wrote that breaks the rules (see README) makes {@code pop()}
 * return null, marks the queue broken with a reason, and tells the {@link FaultListener} once. Nothing
 * here throws on the data path and nothing reads or writes outside the DMA table's ranges.
 */
public abstract sealed class Virtqueue permits SplitVirtqueue, PackedVirtqueue {
    /** Told once when a queue breaks, on the worker (or activating) thread. */
    @FunctionalInterface
    public interface FaultListener {
        void queueFault(Virtqueue queue, String reason);
    }

    static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final int U16_MASK = 0xFFFF;
    static final long U32_MASK = 0xFFFF_FFFFL;

    /**
     * A 16-bit ring field read with acquire semantics: no later load or store moves above it. A fence
     * after a plain load (one aligned instruction) instead of an acquire access through a layout var
     * handle, whose enclosing-layout checks cost more than the load on every descriptor.
     */
    static int loadAcquire16(MemorySegment memory, long offset) {
        int value = Short.toUnsignedInt(memory.get(LE16, offset));
        VarHandle.acquireFence();
        return value;
    }

    /** A 16-bit ring field written with release semantics: no earlier load or store moves below it. */
    static void storeRelease16(MemorySegment memory, long offset, int value) {
        VarHandle.releaseFence();
        memory.set(LE16, offset, (short) value);
    }

    final int index;
    final int maxSize;
    final QueueCounters counters;
    final DescriptorChain chain;
    private final FaultListener faults;

    DmaTable table;
    int size;
    long descAddr;
    long driverAddr;
    long deviceAddr;
    boolean eventIdx;
    boolean indirect;
    boolean inOrder;
    DirtyLog dirtyLog;

    /**
     * The range the last buffer was found in, tried before the table's search: buffers cluster in a
     * few large ranges. Valid within one pass (a reader section); dropped when the table changes.
     */
    private DmaRegion lastRegion;

    /** Where the table found by the last {@link #indirectTable} call starts in its memory. */
    long indirectBase;

    private long pendingCount;
    private long pendingBytes;
    /** How long rings may stay outside the table (between an unmap and the map that restores them). */
    public static final long UNMAPPED_GRACE_NANOS = 2_000_000_000L;
    private static final long NANOS_PER_MILLI = 1_000_000L;

    private boolean active;
    private boolean broken;
    /** Re-resolving the rings in {@link #begin()}: a range that is not mapped may be mid-remap, not an error yet. */
    private boolean resolvingAgain;
    /** When the rings were last found unmapped in {@link #begin()}, or 0 while they are mapped. */
    private long unmappedSince;
    private String failure;
    private long generation;
    private int ticket;
    private boolean inPass;

    /**
     * Entries an indirect table may hold even when the queue is smaller. Linux sizes a request's indirect
     * table by the device's seg_max, not by the queue size the front-end picked (QEMU's vhost-user-blk
     * queue-size defaults to 128 while a disk may offer seg_max 254), and QEMU's and Linux's own devices
     * accept tables up to this many entries; a guest doing so must work here too.
     */
    public static final int MAX_INDIRECT_ENTRIES = 1024;

    /** The most buffers one chain can have in a queue of at most {@code maxSize} entries. */
    static int chainCapacity(int maxSize) {
        return Math.max(maxSize, MAX_INDIRECT_ENTRIES);
    }

    Virtqueue(int index, int maxSize, QueueCounters counters, FaultListener faults) {
        this.index = index;
        this.maxSize = maxSize;
        this.counters = Objects.requireNonNull(counters, "counters");
        this.faults = Objects.requireNonNull(faults, "faults");
        this.chain = new DescriptorChain(index, chainCapacity(maxSize));
    }

    /** A split queue, or a packed one if {@code packed}, of at most {@code maxSize} entries. */
    public static Virtqueue create(boolean packed, int index, int maxSize, QueueCounters counters, FaultListener faults) {
        return packed ? new PackedVirtqueue(index, maxSize, counters, faults)
                : new SplitVirtqueue(index, maxSize, counters, faults);
    }

    public final int index() {
        return index;
    }

    public final int size() {
        return size;
    }

    public final boolean isPacked() {
        return this instanceof PackedVirtqueue;
    }

    public final QueueCounters counters() {
        return counters;
    }

    /**
     * Sets what the driver programmed; the queue must be inactive. Sizes and addresses are checked by
     * {@link #activate}, so a driver's bad value breaks the queue there instead of failing here.
     */
    public final void configure(DmaTable dmaTable, int queueSize, long desc, long driver, long device, long features) {
        if (active) {
            throw new IllegalStateException("queue " + index + " is active");
        }
        this.table = Objects.requireNonNull(dmaTable, "dmaTable");
        this.size = queueSize;
        this.descAddr = desc;
        this.driverAddr = driver;
        this.deviceAddr = device;
        this.eventIdx = VirtioFeature.has(features, VirtioFeature.RING_EVENT_IDX);
        this.indirect = VirtioFeature.has(features, VirtioFeature.RING_INDIRECT_DESC);
        this.inOrder = VirtioFeature.has(features, VirtioFeature.IN_ORDER);
    }

    /** Where writes to client memory are logged while migrating; null for none. Control path. */
    public final void setDirtyLog(DirtyLog log) {
        this.dirtyLog = log;
    }

    /**
     * Validates the size and resolves the ring areas (inside mapped fd-backed ranges, aligned, with the
     * permissions each side needs). On success the queue is active; on failure it is broken, the
     * listener has been told why, and this returns false.
     */
    public final boolean activate() {
        if (table == null) {
            throw new IllegalStateException("queue " + index + " was never configured");
        }
        broken = false;
        failure = null;
        unmappedSince = 0;
        if (!validSize(size) || size > maxSize) {
            return fail(String.format("queue size %d is not valid for a %s queue of at most %d entries", size,
                    isPacked() ? "packed" : "split", maxSize));
        }
        if (!checkPosition()) {
            return false;
        }
        lastRegion = null;
        int t = table.enter();
        try {
            generation = table.generation();
            if (!resolveRings()) {
                return false;
            }
        } finally {
            table.exit(t);
        }
        active = true;
        return true;
    }

    /** Stops using the rings; the position (queue state) is kept. */
    public final void deactivate() {
        active = false;
        unmappedSince = 0;
        releaseRings();
    }

    public final boolean isActive() {
        return active;
    }

    public final boolean isBroken() {
        return broken;
    }

    /** Why the queue broke, or null. */
    public final String failure() {
        return failure;
    }

    /**
     * Starts a pass on the worker thread: enters a DMA reader section and re-resolves the rings if the
     * table changed since they were resolved. False (and no section held) if the queue is inactive or
     * broken, or its rings are not mapped right now.
     *
     * <p>A client remaps memory as an unmap followed by a map (QEMU does so when the guest's firmware
     * changes the memory layout while its queue runs), and a pass may fall between the two. So a ring
     * found outside the table here is not a fault at once: {@link #awaitingMemory()} turns true and the
     * caller retries; only if the rings stay unmapped for {@link #UNMAPPED_GRACE_NANOS} does the queue
     * break. A misaligned or wrongly permitted ring breaks it at once, as at {@link #activate()}.
     */
    public final boolean begin() {
        if (!active || broken) {
            return false;
        }
        ticket = table.enter();
        inPass = true;
        long g = table.generation();
        if (g != generation) {
            lastRegion = null;
            resolvingAgain = true;
            boolean resolved;
            try {
                resolved = resolveRings();
            } finally {
                resolvingAgain = false;
            }
            if (!resolved) {
                if (!broken) {
                    long now = System.nanoTime();
                    if (unmappedSince == 0) {
                        unmappedSince = now;
                    } else if (now - unmappedSince > UNMAPPED_GRACE_NANOS) {
                        fail("the rings have not been mapped for " + UNMAPPED_GRACE_NANOS / NANOS_PER_MILLI + " ms");
                    }
                }
                end();
                return false;
            }
            generation = g;
            unmappedSince = 0;
        }
        return true;
    }

    /** Whether the last {@link #begin()} found the rings unmapped (within the grace): retry the pass later. */
    public final boolean awaitingMemory() {
        return unmappedSince != 0 && !broken && active;
    }

    /** Ends the pass started by a true {@link #begin()}; publishes pending used entries first. */
    public final void end() {
        if (inPass) {
            if (active && !broken) {
                publish();
            }
            inPass = false;
            table.exit(ticket);
        }
    }

    /** The next available buffer, or null if there is none or the queue broke. Inside a pass. */
    public abstract DescriptorChain pop();

    /**
     * Returns the buffer just popped (and not pushed) to the driver's side unconsumed: the next
     * {@link #pop()} hands it out again. For a device that found it has nothing to put in it yet.
     */
    public abstract void unpop(DescriptorChain popped);

    /**
     * Marks {@code popped} used with {@code written} bytes written to its writable part. The used
     * entry becomes visible to the driver at the latest at {@link #needsInterrupt()} or {@link #end()}.
     */
    public abstract void push(DescriptorChain popped, long written);

    /** Makes pushed entries visible to the driver (release order). */
    public abstract void publish();

    /**
     * Publishes, then answers whether the driver wants an interrupt for what was used since the last
     * time this was asked (event index or the driver's flags). The caller signals if true.
     */
    public abstract boolean needsInterrupt();

    /** Asks the driver not to kick while the device is busy polling the ring anyway. */
    public abstract void disableNotifications();

    /**
     * Asks the driver to kick for the next buffer; returns true if buffers became available meanwhile
     * (the caller must then keep going, or it could sleep with work pending).
     */
    public abstract boolean enableNotifications();

    /** Whether the driver has made buffers available that were not popped yet. Inside a pass. */
    public abstract boolean hasAvailable();

    /** Back to the state after a device reset: index 0, wrap counters 1. Control path, inactive. */
    public abstract void resetState();

    abstract boolean validSize(int n);

    abstract boolean resolveRings();

    abstract void releaseRings();

    /** Whether a restored position fits the queue; fails the queue if not. */
    abstract boolean checkPosition();

    /** Breaks the queue with {@code reason}; returns false for the caller's convenience. */
    final boolean fail(String reason) {
        if (!broken) {
            broken = true;
            failure = reason;
            counters.error();
            faults.queueFault(this, reason);
        }
        return false;
    }

    /**
     * Resolves a ring area: aligned, inside one fd-backed range readable (and writable if asked).
     * Returns null after failing the queue.
     */
    final MemorySegment ringArea(String what, long address, long length, int alignment, boolean write) {
        if ((address & (alignment - 1)) != 0) {
            fail(String.format("%s at 0x%x is not aligned to %d bytes", what, address, alignment));
            return null;
        }
        try {
            DmaRegion r = table.region(address, length, DmaDirection.READ);
            if (write) {
                table.region(address, length, DmaDirection.WRITE);
            }
            MemorySegment memory = r.segment();
            if (memory == null) {
                fail(String.format("%s at 0x%x lies in memory reachable only by messages", what, address));
                return null;
            }
            return memory.asSlice(r.offsetOf(address), length);
        } catch (DmaException e) {
            if (resolvingAgain && e.errno() == Errno.EFAULT) {
                return null; // not mapped right now: begin() decides whether that is still a remap
            }
            fail(what + " is not usable: " + e.getMessage());
            return null;
        }
    }

    /**
     * Adds a buffer descriptor to the chain being built after checking it against the DMA table;
     * zero-length descriptors are skipped. False after failing the queue.
     */
    final boolean addBuffer(long address, int length, boolean writable) {
        if (length == 0) {
            return true;
        }
        if (!writable && chain.readableCount() != chain.segmentCount()) {
            return fail(String.format("descriptor chain %d has a device-readable buffer after a device-writable one",
                    chain.id()));
        }
        // Direct chains are bounded by the queue size as they are walked; an indirect table by its length.
        if (chain.segmentCount() >= chainCapacity(size)) {
            return fail(String.format("descriptor chain has more than %d buffers", chainCapacity(size)));
        }
        long len = length & U32_MASK;
        DmaRegion r = lastRegion;
        if (r == null || !r.contains(address, len) || !(writable ? r.writable() : r.readable())) {
            r = lookUp(address, len, writable);
            if (r == null) {
                return false;
            }
        }
        MemorySegment memory = r.segment();
        if (memory == null) {
            return fail(String.format("buffer at 0x%x lies in memory reachable only by messages", address));
        }
        chain.add(memory, r.offsetOf(address), address, length, writable);
        return true;
    }

    /** The table's search, off the fast path; null after failing the queue. */
    private DmaRegion lookUp(long address, long len, boolean writable) {
        try {
            DmaRegion r = table.region(address, len, writable ? DmaDirection.WRITE : DmaDirection.READ);
            lastRegion = r;
            return r;
        } catch (DmaException e) {
            fail(String.format("%s buffer [0x%x, +0x%x) is not usable: %s",
                    writable ? "device-writable" : "device-readable", address, len, e.getMessage()));
            return null;
        }
    }

    /**
     * Resolves an indirect table for reading: len a non-zero multiple of 16, at most
     * {@link #chainCapacity} of the queue size entries. Returns the whole range's memory, the table starting at {@link #indirectBase}; null after
     * failing the queue.
     */
    final MemorySegment indirectTable(long address, int length, int descSize) {
        long len = length & U32_MASK;
        if (len == 0 || len % descSize != 0) {
            fail(String.format("indirect table length %d is not a non-zero multiple of %d", len, descSize));
            return null;
        }
        if (len / descSize > chainCapacity(size)) {
            fail(String.format("indirect table of %d descriptors is larger than the queue size %d allows (%d)",
                    len / descSize, size, chainCapacity(size)));
            return null;
        }
        try {
            DmaRegion r = table.region(address, len, DmaDirection.READ);
            MemorySegment memory = r.segment();
            if (memory == null) {
                fail(String.format("indirect table at 0x%x lies in memory reachable only by messages", address));
                return null;
            }
            indirectBase = r.offsetOf(address);
            return memory;
        } catch (DmaException e) {
            fail(String.format("indirect table [0x%x, +0x%x) is not usable: %s", address, len, e.getMessage()));
            return null;
        }
    }

    /** Logs the first {@code written} bytes of the chain's writable part as dirty. */
    final void logWritten(DescriptorChain c, long written) {
        DirtyLog log = dirtyLog;
        if (log == null || written <= 0) {
            return;
        }
        long left = written;
        for (int i = c.readableCount(); i < c.segmentCount() && left > 0; i++) {
            long n = Math.min(left, c.length(i) & U32_MASK);
            log.markDirty(c.address(i), n);
            left -= n;
        }
    }

    final void logRing(long address, long length) {
        DirtyLog log = dirtyLog;
        if (log != null) {
            log.markDirty(address, length);
        }
    }

    /** Accounts a pushed chain; the counters see the pass's total at {@link #flushCounts()}. */
    final void account(DescriptorChain c, long written) {
        pendingCount++;
        pendingBytes += c.readableLength() + written;
    }

    /**
     * Moves what {@link #account} gathered into the shared counters: once per publish (split rings), or
     * before each used descriptor a packed ring stores; always before the driver can see those buffers.
     */
    final void flushCounts() {
        if (pendingCount != 0) {
            counters.completed(pendingCount, pendingBytes);
            pendingCount = 0;
            pendingBytes = 0;
        }
    }

    @Override
    public String toString() {
        return String.format("%s queue %d (size %d, desc 0x%x, driver 0x%x, device 0x%x)",
                isPacked() ? "packed" : "split", index, size, descAddr, driverAddr, deviceAddr);
    }
}

package io.umdev.virtio.ring;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The live counters of one queue. Each counter has one writer (the queue's worker thread), except
 * {@link #kick()}, which any thread may call; readers on management threads read them without a lock
 * and may see values a few operations old. Single-writer counters are updated with plain reads and
 * opaque writes: no atomic instruction on the data path.
 */
public final class QueueCounters {
    private static final VarHandle REQUESTS;
    private static final VarHandle BYTES;
    private static final VarHandle ERRORS;
    private static final VarHandle DROPS;
    private static final VarHandle KICKS;
    private static final VarHandle INTERRUPTS;
    private static final VarHandle SUPPRESSED;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            REQUESTS = l.findVarHandle(QueueCounters.class, "requests", long.class);
            BYTES = l.findVarHandle(QueueCounters.class, "bytes", long.class);
            ERRORS = l.findVarHandle(QueueCounters.class, "errors", long.class);
            DROPS = l.findVarHandle(QueueCounters.class, "drops", long.class);
            KICKS = l.findVarHandle(QueueCounters.class, "kicks", long.class);
            INTERRUPTS = l.findVarHandle(QueueCounters.class, "interrupts", long.class);
            SUPPRESSED = l.findVarHandle(QueueCounters.class, "suppressed", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") private long requests;
    @SuppressWarnings("unused") private long bytes;
    @SuppressWarnings("unused") private long errors;
    @SuppressWarnings("unused") private long drops;
    @SuppressWarnings("unused") private long kicks;
    @SuppressWarnings("unused") private long interrupts;
    @SuppressWarnings("unused") private long suppressed;

    // Each counter names its handle directly, so that the JIT sees a constant handle and emits a plain
    // load and store (a handle passed as an argument would not be folded).

    /** {@code count} buffers completed, {@code byteCount} bytes moved between them (worker thread). */
    public void completed(long count, long byteCount) {
        REQUESTS.setOpaque(this, (long) REQUESTS.get(this) + count);
        BYTES.setOpaque(this, (long) BYTES.get(this) + byteCount);
    }

    /** A request failed (worker thread). */
    public void error() {
        ERRORS.setOpaque(this, (long) ERRORS.get(this) + 1);
    }

    /** Data was dropped, e.g. a frame with no receive buffer for it (worker thread). */
    public void drop() {
        DROPS.setOpaque(this, (long) DROPS.get(this) + 1);
    }

    /** A doorbell rang (any thread). */
    public void kick() {
        KICKS.getAndAdd(this, 1L);
    }

    /** The driver was interrupted (worker thread). */
    public void interrupt() {
        INTERRUPTS.setOpaque(this, (long) INTERRUPTS.get(this) + 1);
    }

    /** An interrupt was not sent because the driver suppressed it (worker thread). */
    public void suppressed() {
        SUPPRESSED.setOpaque(this, (long) SUPPRESSED.get(this) + 1);
    }

    public long requests() {
        return (long) REQUESTS.getOpaque(this);
    }

    public long bytes() {
        return (long) BYTES.getOpaque(this);
    }

    public long errors() {
        return (long) ERRORS.getOpaque(this);
    }

    public long drops() {
        return (long) DROPS.getOpaque(this);
    }

    public long kicks() {
        return (long) KICKS.getOpaque(this);
    }

    public long interrupts() {
        return (long) INTERRUPTS.getOpaque(this);
    }

    public long suppressedInterrupts() {
        return (long) SUPPRESSED.getOpaque(this);
    }

    /** Sets every counter to zero (control path, with the worker stopped). */
    public void clear() {
        REQUESTS.setOpaque(this, 0L);
        BYTES.setOpaque(this, 0L);
        ERRORS.setOpaque(this, 0L);
        DROPS.setOpaque(this, 0L);
        KICKS.setOpaque(this, 0L);
        INTERRUPTS.setOpaque(this, 0L);
        SUPPRESSED.setOpaque(this, 0L);
    }
}

package io.umdev.simnet.l2;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A bounded, lock-free queue of frames with its buffers allocated up front: many senders (other
 * ports' transmit paths, each on its own thread) copy frames in, one receiver (the owning device's
 * receive queue) copies them out. A sender never waits: when every slot is taken the frame is refused
 * and the caller counts a drop. Nothing is allocated per frame.
 *
 * <p>After Dmitry Vyukov's bounded MPMC queue: each slot has a sequence number saying whose turn it
 * is. A sender claims the slot at {@code tail} by CAS, copies its frame, then publishes the slot by
 * advancing the sequence; the receiver sees a frame only once published, and hands the slot back, one
 * lap later, after copying it out.
 */
public final class FrameMailbox {
    private static final VarHandle TAIL;

    static {
        try {
            TAIL = MethodHandles.lookup().findVarHandle(FrameMailbox.class, "tail", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int capacity;
    private final int mask;
    private final int slotSize;
    private final MemorySegment buffers;
    private final int[] lengths;
    private final AtomicLongArray sequence;

    @SuppressWarnings("unused") // through TAIL
    private volatile long tail;
    /** Receiver only. */
    private long head;

    /**
     * @param capacity slots, a power of two
     * @param slotSize the largest frame a slot holds, in bytes
     */
    public FrameMailbox(int capacity, int slotSize) {
        if (capacity < 1 || Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("capacity must be a power of two: " + capacity);
        }
        if (slotSize < 1) {
            throw new IllegalArgumentException("slotSize must be positive: " + slotSize);
        }
        this.capacity = capacity;
        this.mask = capacity - 1;
        this.slotSize = slotSize;
        // On the heap: senders may still be copying when the port goes, and the GC, unlike an arena, never
        // frees memory under a copy.
        this.buffers = MemorySegment.ofArray(new byte[Math.multiplyExact(capacity, slotSize)]);
        this.lengths = new int[capacity];
        this.sequence = new AtomicLongArray(capacity);
        for (int i = 0; i < capacity; i++) {
            sequence.set(i, i);
        }
    }

    public int capacity() {
        return capacity;
    }

    public int slotSize() {
        return slotSize;
    }

    /**
     * Copies {@code length} bytes of {@code frame} from {@code offset} into a free slot. Any thread.
     *
     * @return false, copying nothing, if the frame is larger than a slot or every slot is taken
     */
    public boolean offer(MemorySegment frame, long offset, int length) {
        if (length < 0 || length > slotSize) {
            return false;
        }
        long position = (long) TAIL.getVolatile(this);
        int index;
        while (true) {
            index = (int) (position & mask);
            long difference = sequence.getAcquire(index) - position;
            if (difference == 0) {
                if (TAIL.weakCompareAndSet(this, position, position + 1)) {
                    break;
                }
                position = (long) TAIL.getVolatile(this);
            } else if (difference < 0) {
                return false; // the receiver has not yet emptied this slot from the previous lap: full
            } else {
                position = (long) TAIL.getVolatile(this);
            }
        }
        MemorySegment.copy(frame, offset, buffers, (long) index * slotSize, length);
        lengths[index] = length; // published by the release below
        sequence.setRelease(index, position + 1);
        return true;
    }

    /** The length of the oldest published frame, or -1 if there is none. Receiver only. */
    public int peekLength() {
        int index = (int) (head & mask);
        return sequence.getAcquire(index) == head + 1 ? lengths[index] : -1;
    }

    /** All slots; the oldest frame is at {@link #peekOffset()}. Receiver only, after {@link #peekLength()}. */
    public MemorySegment buffers() {
        return buffers;
    }

    /** Where in {@link #buffers()} the oldest frame starts. */
    public long peekOffset() {
        return (head & mask) * (long) slotSize;
    }

    /** Hands the oldest frame's slot back to the senders. Receiver only, after a {@link #peekLength()} &ge; 0. */
    public void release() {
        int index = (int) (head & mask);
        sequence.setRelease(index, head + capacity);
        head++;
    }

    /** Drops every published frame. Receiver only (or while no receiver runs). @return how many */
    public int clear() {
        int dropped = 0;
        while (peekLength() >= 0) {
            release();
            dropped++;
        }
        return dropped;
    }

    /** Frames waiting; a snapshot, for statistics. */
    public int size() {
        long size = (long) TAIL.getVolatile(this) - head;
        return (int) Math.max(0, Math.min(capacity, size));
    }
}

package io.umdev.vfiouser.irq;

import static io.umdev.vfiouser.protocol.IrqSetPayload.ACTION_MASK;
import static io.umdev.vfiouser.protocol.IrqSetPayload.ACTION_TRIGGER;
import static io.umdev.vfiouser.protocol.IrqSetPayload.ACTION_UNMASK;
import static io.umdev.vfiouser.protocol.IrqSetPayload.DATA_BOOL;
import static io.umdev.vfiouser.protocol.IrqSetPayload.DATA_EVENTFD;
import static io.umdev.vfiouser.protocol.IrqSetPayload.DATA_NONE;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.LinuxException;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.protocol.IrqInfoPayload;
import io.umdev.vfiouser.protocol.IrqSetPayload;
import io.umdev.vfiouser.protocol.ProtocolException;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * One IRQ index of a device: {@code count} vectors, each with a trigger eventfd (installed by the
 * client with SET_IRQS), a mask bit and a pending bit. The device calls {@link #trigger(int)} from its
 * data path without locking; the connection applies SET_IRQS with {@link #apply}.
 *
 * <p>Semantics: an unmasked vector with an eventfd is signalled; a masked one becomes pending and is
 * signalled when unmasked. An eventfd installed counts as enabled: QEMU's client emulates the MSI-X
 * table itself and never sends UNMASK for a vector. An AUTOMASKED index (INTx) masks itself on each
 * trigger until the client unmasks it. Optional mask/unmask eventfds are signalled when the device
 * side masks or unmasks a vector.
 */
public final class IrqIndex {
    private static final int MASKED = 0x1;
    private static final int PENDING = 0x2;

    /** Told when the client changes a vector, so a device can re-assert a level or track enables. */
    public interface Listener {
        /** The client masked (true) or unmasked (false) {@code vector}. */
        default void maskChanged(int vector, boolean masked) {
        }

        /** The client installed (true) or removed (false) the trigger eventfd of {@code vector}. */
        default void triggerChanged(int vector, boolean installed) {
        }
    }

    private final int count;
    private final int infoFlags;
    private final AtomicReferenceArray<EventFd> triggers;
    private final AtomicReferenceArray<EventFd> maskNotifiers;
    private final AtomicReferenceArray<EventFd> unmaskNotifiers;
    private final AtomicIntegerArray state;
    private final AtomicLong lost = new AtomicLong();
    private volatile Listener listener = new Listener() {
    };

    /**
     * @param count the number of vectors (0 for an index the device does not have)
     * @param infoFlags the IrqInfoPayload flags reported for this index (EVENTFD, MASKABLE, ...)
     */
    public IrqIndex(int count, int infoFlags) {
        if (count < 0) {
            throw new IllegalArgumentException("negative vector count " + count);
        }
        this.count = count;
        this.infoFlags = infoFlags;
        this.triggers = new AtomicReferenceArray<>(count);
        this.maskNotifiers = new AtomicReferenceArray<>(count);
        this.unmaskNotifiers = new AtomicReferenceArray<>(count);
        this.state = new AtomicIntegerArray(count);
    }

    /** An index the device does not implement: no vectors. */
    public static IrqIndex absent() {
        return new IrqIndex(0, 0);
    }

    public int count() {
        return count;
    }

    public int infoFlags() {
        return infoFlags;
    }

    public void setListener(Listener listener) {
        this.listener = listener;
    }

    /**
     * Raises {@code vector}: signals its eventfd, or marks it pending if masked. Returns true if an
     * eventfd was signalled. Lock-free; safe against a concurrent SET_IRQS.
     */
    public boolean trigger(int vector) {
        if (vector < 0 || vector >= count) {
            return false;
        }
        boolean automasked = (infoFlags & IrqInfoPayload.FLAG_AUTOMASKED) != 0;
        while (true) {
            int s = state.get(vector);
            if ((s & MASKED) != 0) {
                if ((s & PENDING) != 0 || state.compareAndSet(vector, s, s | PENDING)) {
                    return false;
                }
                continue;
            }
            if (!automasked || state.compareAndSet(vector, s, s | MASKED)) {
                break;
            }
        }
        if (automasked) {
            notify(maskNotifiers, vector);
        }
        EventFd fd = triggers.get(vector);
        if (fd == null || !fd.signal()) {
            lost.incrementAndGet();
            return false;
        }
        return true;
    }

    /** Masks {@code vector} from the device side (signals the client's mask eventfd, if any). */
    public void mask(int vector) {
        if (vector >= 0 && vector < count && (state.getAndUpdate(vector, s -> s | MASKED) & MASKED) == 0) {
            notify(maskNotifiers, vector);
        }
    }

    /**
     * Unmasks {@code vector} from the device side; a pending interrupt is delivered now (and masks an
     * AUTOMASKED vector again).
     */
    public void unmask(int vector) {
        if (vector >= 0 && vector < count) {
            unmaskVector(vector);
            notify(unmaskNotifiers, vector);
        }
    }

    private void unmaskVector(int vector) {
        // Delivering the pending interrupt is a trigger: an AUTOMASKED vector stays masked for it, as in VFIO.
        boolean automasked = (infoFlags & IrqInfoPayload.FLAG_AUTOMASKED) != 0;
        int before = state.getAndUpdate(vector,
                s -> automasked && (s & PENDING) != 0 ? s & ~PENDING : s & ~(MASKED | PENDING));
        if ((before & PENDING) != 0) {
            if (automasked) {
                notify(maskNotifiers, vector);
            }
            EventFd fd = triggers.get(vector);
            if (fd == null || !fd.signal()) {
                lost.incrementAndGet();
            }
        }
    }

    private static void notify(AtomicReferenceArray<EventFd> notifiers, int vector) {
        EventFd fd = notifiers.get(vector);
        if (fd != null) {
            fd.signal();
        }
    }

    public boolean isMasked(int vector) {
        return (state.get(vector) & MASKED) != 0;
    }

    public boolean isPending(int vector) {
        return (state.get(vector) & PENDING) != 0;
    }

    public boolean hasTrigger(int vector) {
        return triggers.get(vector) != null;
    }

    /** Interrupts that found no eventfd to signal (none installed, or the client's fd failed). */
    public long lostInterrupts() {
        return lost.get();
    }

    /**
     * Applies one SET_IRQS request. {@code fds} are the eventfds that came with it; this takes the ones
     * it keeps (replacing them by null in the list) and leaves the rest for the caller to close.
     *
     * @throws ProtocolException EINVAL for a malformed request: mixed or unknown flags, a range beyond
     *     the index, an action the index does not support, missing booleans, a wrong number of fds, or an
     *     fd that is not an eventfd
     */
    public void apply(IrqSetPayload request, List<OwnedFd> fds) throws ProtocolException {
        int data = request.dataKind();
        int action = request.action();
        int unknown = request.flags() & ~(IrqSetPayload.DATA_MASK | IrqSetPayload.ACTION_MASK_BITS);
        if (unknown != 0 || Integer.bitCount(data) != 1 || Integer.bitCount(action) != 1) {
            throw ProtocolException.invalid("SET_IRQS flags 0x%x need exactly one DATA and one ACTION bit",
                    request.flags());
        }
        long start = Integer.toUnsignedLong(request.start());
        long n = Integer.toUnsignedLong(request.count());
        if (data != DATA_EVENTFD && !fds.isEmpty()) {
            throw ProtocolException.invalid("SET_IRQS without DATA_EVENTFD carries %d fds", fds.size());
        }
        if (n == 0) {
            if (data == DATA_NONE && action == ACTION_TRIGGER && start == 0) {
                disable();
                return;
            }
            throw ProtocolException.invalid("SET_IRQS with count 0 is only DATA_NONE|ACTION_TRIGGER from 0");
        }
        if (start + n > count) {
            throw ProtocolException.invalid("SET_IRQS vectors [%d, %d) exceed the %d of index %d",
                    start, start + n, count, request.index());
        }
        if (action != ACTION_TRIGGER && (infoFlags & IrqInfoPayload.FLAG_MASKABLE) == 0) {
            throw ProtocolException.invalid("IRQ index %d is not maskable", request.index());
        }
        int first = (int) start;
        int last = (int) (start + n);
        switch (data) {
            case DATA_NONE -> {
                for (int v = first; v < last; v++) {
                    act(action, v);
                }
            }
            case DATA_BOOL -> {
                if (request.data().byteSize() < n) {
                    throw ProtocolException.invalid("SET_IRQS DATA_BOOL has %d booleans for %d vectors",
                            request.data().byteSize(), n);
                }
                for (int v = first; v < last; v++) {
                    if (request.data().get(JAVA_BYTE, v - first) != 0) {
                        act(action, v);
                    }
                }
            }
            default -> assignEventFds(request, action, first, last, fds);
        }
    }

    private void act(int action, int vector) {
        switch (action) {
            case ACTION_MASK -> {
                state.getAndUpdate(vector, s -> s | MASKED);
                listener.maskChanged(vector, true);
            }
            case ACTION_UNMASK -> {
                unmaskVector(vector);
                listener.maskChanged(vector, false);
            }
            default -> {
                // A client-initiated trigger: deliver it as the device would.
                trigger(vector);
            }
        }
    }

    private void assignEventFds(IrqSetPayload request, int action, int first, int last, List<OwnedFd> fds)
            throws ProtocolException {
        if ((infoFlags & IrqInfoPayload.FLAG_EVENTFD) == 0) {
            throw ProtocolException.invalid("IRQ index %d does not signal through eventfds", request.index());
        }
        int n = last - first;
        if (!fds.isEmpty() && fds.size() != n) {
            throw ProtocolException.invalid("SET_IRQS DATA_EVENTFD for %d vectors carries %d fds", n, fds.size());
        }
        AtomicReferenceArray<EventFd> target = switch (action) {
            case ACTION_MASK -> maskNotifiers;
            case ACTION_UNMASK -> unmaskNotifiers;
            default -> triggers;
        };
        EventFd[] adopted = new EventFd[n];
        if (!fds.isEmpty()) {
            for (int i = 0; i < n; i++) {
                try {
                    adopted[i] = EventFd.adoptChecked(fds.get(i));
                } catch (LinuxException e) {
                    throw new ProtocolException(Errno.EINVAL, "SET_IRQS fd " + i + " is not an eventfd");
                }
            }
            for (int i = 0; i < n; i++) {
                fds.set(i, null);
            }
        }
        for (int v = first; v < last; v++) {
            EventFd old = target.getAndSet(v, adopted[v - first]);
            if (old != null) {
                old.close();
            }
            if (target == triggers && (old != null || adopted[v - first] != null)) {
                listener.triggerChanged(v, adopted[v - first] != null);
            }
        }
    }

    /** DATA_NONE|ACTION_TRIGGER with count 0: the client turns the whole index off. */
    private void disable() {
        for (int v = 0; v < count; v++) {
            EventFd old = triggers.getAndSet(v, null);
            if (old != null) {
                old.close();
                listener.triggerChanged(v, false);
            }
        }
    }

    /** Back to the state of a fresh device: no client fds, nothing masked or pending. */
    public void reset() {
        disable();
        for (int v = 0; v < count; v++) {
            closeSlot(maskNotifiers, v);
            closeSlot(unmaskNotifiers, v);
            state.set(v, 0);
        }
    }

    private static void closeSlot(AtomicReferenceArray<EventFd> slots, int vector) {
        EventFd old = slots.getAndSet(vector, null);
        if (old != null) {
            old.close();
        }
    }
}

package io.umdev.emudev.testing;

import io.umdev.linux.EventFd;
import io.umdev.linux.LinuxException;
import io.umdev.linux.OwnedFd;
import io.umdev.linux.Poll;
import io.umdev.vfiouser.irq.IrqIndex;
import io.umdev.vfiouser.protocol.IrqSetPayload;
import io.umdev.vfiouser.protocol.ProtocolException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Plays the client's side of SET_IRQS against an {@link IrqIndex}, as the server would apply it: the
 * index receives duplicates of eventfds the test keeps, so the test reads its own end to see a signal.
 * Closes every eventfd it made.
 */
public final class ClientIrqs implements AutoCloseable {
    /** Generous bound for a signal raised on another thread; never a timing assertion. */
    public static final int WAIT_MILLIS = (int) TimeUnit.SECONDS.toMillis(10);

    private final List<EventFd> mine = new ArrayList<>();
    private final List<OwnedFd> handedOut = new ArrayList<>();

    /** A fresh non-blocking eventfd, closed with this helper. */
    public EventFd eventFd() throws LinuxException {
        EventFd e = EventFd.createNonBlocking();
        mine.add(e);
        return e;
    }

    /** SET_IRQS DATA_EVENTFD|ACTION_TRIGGER for {@code vector}: installs a new eventfd and returns the test's end. */
    public EventFd install(IrqIndex irq, int vector) throws LinuxException, ProtocolException {
        EventFd e = eventFd();
        OwnedFd copy = e.fd().duplicate();
        handedOut.add(copy); // closing it again after the index took it is harmless: close is idempotent
        List<OwnedFd> fds = new ArrayList<>(List.of(copy));
        irq.apply(request(IrqSetPayload.DATA_EVENTFD | IrqSetPayload.ACTION_TRIGGER, vector, 1), fds);
        return e;
    }

    /** SET_IRQS DATA_EVENTFD|ACTION_TRIGGER without fds: removes the vector's eventfd (QEMU's way to mask MSI-X). */
    public void remove(IrqIndex irq, int vector) throws ProtocolException {
        irq.apply(request(IrqSetPayload.DATA_EVENTFD | IrqSetPayload.ACTION_TRIGGER, vector, 1), new ArrayList<>());
    }

    /** SET_IRQS DATA_NONE|ACTION_MASK. */
    public void mask(IrqIndex irq, int vector) throws ProtocolException {
        irq.apply(request(IrqSetPayload.DATA_NONE | IrqSetPayload.ACTION_MASK, vector, 1), new ArrayList<>());
    }

    /** SET_IRQS DATA_NONE|ACTION_UNMASK. */
    public void unmask(IrqIndex irq, int vector) throws ProtocolException {
        irq.apply(request(IrqSetPayload.DATA_NONE | IrqSetPayload.ACTION_UNMASK, vector, 1), new ArrayList<>());
    }

    private static IrqSetPayload request(int flags, int start, int count) {
        return new IrqSetPayload((int) IrqSetPayload.LAYOUT.byteSize(), flags, 0, start, count,
                MemorySegment.ofArray(new byte[0]));
    }

    /** How many signals {@code e} collected since last asked (0 if none); never waits. */
    public static long signals(EventFd e) throws LinuxException {
        return e.read();
    }

    /** Waits (bounded) for a signal raised on another thread; returns the count collected, 0 if none came. */
    public static long awaitSignals(EventFd e) throws LinuxException {
        if ((Poll.poll(e.fd().fd(), Poll.POLLIN, WAIT_MILLIS) & Poll.POLLIN) == 0) {
            return 0;
        }
        return e.read();
    }

    @Override
    public void close() {
        handedOut.forEach(OwnedFd::close);
        mine.forEach(EventFd::close);
        handedOut.clear();
        mine.clear();
    }
}

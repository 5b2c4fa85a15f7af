package io.umdev.vfiouser.irq;

import static io.umdev.vfiouser.protocol.IrqInfoPayload.FLAG_AUTOMASKED;
import static io.umdev.vfiouser.protocol.IrqInfoPayload.FLAG_EVENTFD;
import static io.umdev.vfiouser.protocol.IrqInfoPayload.FLAG_MASKABLE;
import static io.umdev.vfiouser.protocol.IrqSetPayload.ACTION_MASK;
import static io.umdev.vfiouser.protocol.IrqSetPayload.ACTION_TRIGGER;
import static io.umdev.vfiouser.protocol.IrqSetPayload.ACTION_UNMASK;
import static io.umdev.vfiouser.protocol.IrqSetPayload.DATA_BOOL;
import static io.umdev.vfiouser.protocol.IrqSetPayload.DATA_EVENTFD;
import static io.umdev.vfiouser.protocol.IrqSetPayload.DATA_NONE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.LinuxException;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.protocol.IrqSetPayload;
import io.umdev.vfiouser.protocol.ProtocolException;
import io.umdev.vfiouser.testing.OpenFiles;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * One IRQ index with real eventfds. The fds handed to {@link IrqIndex#apply} are duplicates of
 * eventfds the test keeps, as a client's would be: the test reads its own end to see a signal.
 */
class IrqIndexTest {
    private static final int MSIX = FLAG_EVENTFD | FLAG_MASKABLE;
    private static final int INTX = FLAG_EVENTFD | FLAG_MASKABLE | FLAG_AUTOMASKED;

    /** Eventfds this test made; closed after each test. */
    private final List<EventFd> mine = new ArrayList<>();
    private final List<OwnedFd> handedOut = new ArrayList<>();

    @AfterEach
    void closeEverything() {
        handedOut.forEach(OwnedFd::close);
        mine.forEach(EventFd::close);
    }

    private EventFd eventfd() throws LinuxException {
        EventFd e = EventFd.createNonBlocking();
        mine.add(e);
        return e;
    }

    private EventFd[] eventfds(int n) throws LinuxException {
        EventFd[] events = new EventFd[n];
        for (int i = 0; i < n; i++) {
            events[i] = eventfd();
        }
        return events;
    }

    /** Duplicates of the given eventfds in a mutable list, as the transport hands them over. */
    private List<OwnedFd> fds(EventFd... events) throws LinuxException {
        List<OwnedFd> list = new ArrayList<>();
        for (EventFd e : events) {
            OwnedFd copy = e.fd().duplicate();
            handedOut.add(copy); // closing again after the index took it is harmless: close is idempotent
            list.add(copy);
        }
        return list;
    }

    private static IrqSetPayload set(int flags, int start, int count, byte... bools) {
        return new IrqSetPayload((int) IrqSetPayload.LAYOUT.byteSize() + bools.length, flags, 0, start, count,
                MemorySegment.ofArray(bools.clone()));
    }

    private static void apply(IrqIndex irq, int flags, int start, int count, List<OwnedFd> fds) throws ProtocolException {
        irq.apply(set(flags, start, count), fds);
    }

    private static void apply(IrqIndex irq, int flags, int start, int count) throws ProtocolException {
        irq.apply(set(flags, start, count), new ArrayList<>());
    }

    private static void assertSignalled(long times, EventFd e) throws LinuxException {
        assertEquals(times, e.read());
    }

    private static boolean[] triggers(IrqIndex irq) {
        boolean[] installed = new boolean[irq.count()];
        for (int v = 0; v < irq.count(); v++) {
            installed[v] = irq.hasTrigger(v);
        }
        return installed;
    }

    /** The request is refused with EINVAL, the fds stay the caller's (same list, all open), nothing changes. */
    private static void assertRejected(IrqIndex irq, IrqSetPayload request, List<OwnedFd> fds) {
        List<OwnedFd> before = new ArrayList<>(fds);
        boolean[] installed = triggers(irq);
        long descriptors = OpenFiles.descriptors();
        ProtocolException e = assertThrows(ProtocolException.class, () -> irq.apply(request, fds),
                () -> "flags 0x" + Integer.toHexString(request.flags()) + " start " + request.start() + " count "
                        + request.count() + " fds " + fds.size());
        assertEquals(Errno.EINVAL, e.errno(), e.getMessage());
        assertEquals(before.size(), fds.size());
        for (int i = 0; i < fds.size(); i++) {
            assertSame(before.get(i), fds.get(i), "a refused request must leave the fds to the caller");
            assertTrue(fds.get(i).isOpen());
        }
        assertTrue(Arrays.equals(installed, triggers(irq)), "a refused request changed the installed eventfds");
        assertEquals(descriptors, OpenFiles.descriptors());
    }

    private static void assertRejected(IrqIndex irq, int flags, int start, int count, List<OwnedFd> fds) {
        assertRejected(irq, set(flags, start, count), fds);
    }

    /** Records listener callbacks. */
    static final class Recorder implements IrqIndex.Listener {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public void maskChanged(int vector, boolean masked) {
            events.add((masked ? "mask " : "unmask ") + vector);
        }

        @Override
        public void triggerChanged(int vector, boolean installed) {
            events.add((installed ? "install " : "remove ") + vector);
        }
    }

    // ---- trigger --------------------------------------------------------------------------------

    @Test
    void triggerSignalsTheInstalledEventfd() throws Exception {
        IrqIndex irq = new IrqIndex(4, MSIX);
        EventFd e = eventfd();
        List<OwnedFd> fds = fds(e);
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 2, 1, fds);
        assertNull(fds.get(0), "the index takes the fd it keeps");
        assertTrue(irq.hasTrigger(2));
        assertFalse(irq.hasTrigger(1));

        assertTrue(irq.trigger(2));
        assertSignalled(1, e);
        assertTrue(irq.trigger(2));
        assertTrue(irq.trigger(2));
        assertSignalled(2, e);
        assertSignalled(0, e);
        assertEquals(0, irq.lostInterrupts());
        irq.reset();
    }

    @Test
    void triggerOutsideTheIndexDoesNothing() throws Exception {
        IrqIndex irq = new IrqIndex(2, MSIX);
        assertFalse(irq.trigger(2));
        assertFalse(irq.trigger(-1));
        assertFalse(irq.trigger(Integer.MAX_VALUE));
        IrqIndex absent = IrqIndex.absent();
        assertEquals(0, absent.count());
        assertFalse(absent.trigger(0));
        assertThrows(IllegalArgumentException.class, () -> new IrqIndex(-1, MSIX));
    }

    @Test
    void eachVectorSignalsItsOwnEventfd() throws Exception {
        IrqIndex irq = new IrqIndex(3, MSIX);
        EventFd[] e = eventfds(3);
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 3, fds(e));
        irq.trigger(1);
        irq.trigger(2);
        irq.trigger(2);
        assertSignalled(0, e[0]);
        assertSignalled(1, e[1]);
        assertSignalled(2, e[2]);
        irq.reset();
    }

    @Test
    void clientTriggerThroughSetIrqsSignalsLikeTheDevice() throws Exception {
        IrqIndex irq = new IrqIndex(2, MSIX);
        EventFd e = eventfd();
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 1, 1, fds(e));
        apply(irq, DATA_NONE | ACTION_TRIGGER, 1, 1);
        assertSignalled(1, e);
        apply(irq, DATA_NONE | ACTION_TRIGGER, 0, 2);
        assertSignalled(1, e);
        assertEquals(1, irq.lostInterrupts(), "vector 0 has no eventfd");
        irq.reset();
    }

    @Test
    void replacingAnEventfdClosesTheOldOne() throws Exception {
        IrqIndex irq = new IrqIndex(1, MSIX);
        EventFd first = eventfd();
        EventFd second = eventfd();
        long descriptors = OpenFiles.descriptors();
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, fds(first));
        assertEquals(descriptors + 1, OpenFiles.descriptors());
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, fds(second));
        assertEquals(descriptors + 1, OpenFiles.descriptors(), "the replaced eventfd was not closed");
        irq.trigger(0);
        assertSignalled(0, first);
        assertSignalled(1, second);
        irq.reset();
        assertEquals(descriptors, OpenFiles.descriptors());
    }

    // ---- mask, unmask, pending --------------------------------------------------------------------

    @Test
    void maskedVectorBecomesPendingAndUnmaskDeliversExactlyOnce() throws Exception {
        IrqIndex irq = new IrqIndex(2, MSIX);
        EventFd e = eventfd();
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, fds(e));
        apply(irq, DATA_NONE | ACTION_MASK, 0, 1);
        assertTrue(irq.isMasked(0));
        assertFalse(irq.isMasked(1));

        assertFalse(irq.trigger(0));
        assertFalse(irq.trigger(0));
        assertTrue(irq.isPending(0));
        assertSignalled(0, e);
        assertEquals(0, irq.lostInterrupts(), "a pending interrupt is not lost");

        apply(irq, DATA_NONE | ACTION_UNMASK, 0, 1);
        assertFalse(irq.isMasked(0));
        assertFalse(irq.isPending(0));
        assertSignalled(1, e);
        apply(irq, DATA_NONE | ACTION_UNMASK, 0, 1);
        assertSignalled(0, e);

        assertTrue(irq.trigger(0));
        assertSignalled(1, e);
        irq.reset();
    }

    @Test
    void unmaskWithoutPendingDeliversNothing() throws Exception {
        IrqIndex irq = new IrqIndex(1, MSIX);
        EventFd e = eventfd();
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, fds(e));
        apply(irq, DATA_NONE | ACTION_MASK, 0, 1);
        apply(irq, DATA_NONE | ACTION_UNMASK, 0, 1);
        assertSignalled(0, e);
        irq.reset();
    }

    @Test
    void deviceSideMaskAndUnmaskSignalTheClientsNotifiers() throws Exception {
        IrqIndex irq = new IrqIndex(2, MSIX);
        EventFd trigger = eventfd();
        EventFd masked = eventfd();
        EventFd unmasked = eventfd();
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 1, 1, fds(trigger));
        apply(irq, DATA_EVENTFD | ACTION_MASK, 1, 1, fds(masked));
        apply(irq, DATA_EVENTFD | ACTION_UNMASK, 1, 1, fds(unmasked));

        irq.mask(1);
        irq.mask(1);
        assertSignalled(1, masked);
        assertTrue(irq.isMasked(1));
        irq.trigger(1);
        assertSignalled(0, trigger);

        irq.unmask(1);
        assertSignalled(1, unmasked);
        assertSignalled(1, trigger);
        assertFalse(irq.isMasked(1));

        // out of range: ignored
        irq.mask(2);
        irq.unmask(-1);
        assertSignalled(0, masked);
        assertSignalled(0, unmasked);
        irq.reset();
    }

    @Test
    void clientMaskDoesNotSignalTheMaskNotifier() throws Exception {
        IrqIndex irq = new IrqIndex(1, MSIX);
        EventFd masked = eventfd();
        EventFd unmasked = eventfd();
        apply(irq, DATA_EVENTFD | ACTION_MASK, 0, 1, fds(masked));
        apply(irq, DATA_EVENTFD | ACTION_UNMASK, 0, 1, fds(unmasked));
        apply(irq, DATA_NONE | ACTION_MASK, 0, 1);
        apply(irq, DATA_NONE | ACTION_UNMASK, 0, 1);
        assertSignalled(0, masked);
        assertSignalled(0, unmasked);
        irq.reset();
    }

    @Test
    void automaskedIndexMasksItselfOnTriggerAndSignalsTheMaskNotifier() throws Exception {
        IrqIndex irq = new IrqIndex(1, INTX);
        EventFd trigger = eventfd();
        EventFd masked = eventfd();
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, fds(trigger));
        apply(irq, DATA_EVENTFD | ACTION_MASK, 0, 1, fds(masked));

        assertTrue(irq.trigger(0));
        assertSignalled(1, trigger);
        assertSignalled(1, masked);
        assertTrue(irq.isMasked(0));

        assertFalse(irq.trigger(0), "a masked INTx only becomes pending");
        assertTrue(irq.isPending(0));
        assertSignalled(0, trigger);
        assertSignalled(0, masked);

        apply(irq, DATA_NONE | ACTION_UNMASK, 0, 1);
        assertSignalled(1, trigger);
        irq.reset();
    }

    @Test
    void automaskedVectorStaysMaskedWhenUnmaskDeliversAPendingInterrupt() throws Exception {
        // VFIO_IRQ_INFO_AUTOMASKED: the IRQ masks itself after being triggered, and the client must
        // unmask it to receive new interrupts. Delivering the pending one on unmask is such a trigger.
        IrqIndex irq = new IrqIndex(1, INTX);
        EventFd trigger = eventfd();
        EventFd masked = eventfd();
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, fds(trigger));
        apply(irq, DATA_EVENTFD | ACTION_MASK, 0, 1, fds(masked));
        irq.trigger(0);
        irq.trigger(0);
        assertSignalled(1, trigger);
        assertSignalled(1, masked);

        apply(irq, DATA_NONE | ACTION_UNMASK, 0, 1);
        assertSignalled(1, trigger);
        assertSignalled(1, masked);
        assertTrue(irq.isMasked(0), "the delivered interrupt must mask the vector again");
        assertFalse(irq.isPending(0));

        assertFalse(irq.trigger(0), "no new interrupt before the client unmasks again");
        assertSignalled(0, trigger);
        apply(irq, DATA_NONE | ACTION_UNMASK, 0, 1);
        assertSignalled(1, trigger);
        assertTrue(irq.isMasked(0));

        // nothing pending: unmask leaves it unmasked and the next trigger goes straight out
        apply(irq, DATA_NONE | ACTION_UNMASK, 0, 1);
        assertSignalled(0, trigger);
        assertFalse(irq.isMasked(0));
        assertTrue(irq.trigger(0));
        assertSignalled(1, trigger);
        irq.reset();
    }

    @Test
    void deviceSideUnmaskOfAutomaskedVectorAlsoKeepsItMaskedWhenDelivering() throws Exception {
        IrqIndex irq = new IrqIndex(1, INTX);
        EventFd trigger = eventfd();
        EventFd unmasked = eventfd();
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, fds(trigger));
        apply(irq, DATA_EVENTFD | ACTION_UNMASK, 0, 1, fds(unmasked));
        irq.trigger(0);
        irq.trigger(0);
        assertSignalled(1, trigger);
        irq.unmask(0);
        assertSignalled(1, unmasked);
        assertSignalled(1, trigger);
        assertTrue(irq.isMasked(0));
        irq.reset();
    }

    // ---- DATA_BOOL ----------------------------------------------------------------------------------

    @Test
    void dataBoolActsOnlyWhereTrue() throws Exception {
        IrqIndex irq = new IrqIndex(4, MSIX);
        EventFd[] e = eventfds(4);
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 4, fds(e));

        irq.apply(set(DATA_BOOL | ACTION_TRIGGER, 0, 4, (byte) 1, (byte) 0, (byte) 0xff, (byte) 0), new ArrayList<>());
        assertSignalled(1, e[0]);
        assertSignalled(0, e[1]);
        assertSignalled(1, e[2]);
        assertSignalled(0, e[3]);

        irq.apply(set(DATA_BOOL | ACTION_MASK, 1, 2, (byte) 0, (byte) 1), new ArrayList<>());
        assertFalse(irq.isMasked(1));
        assertTrue(irq.isMasked(2));
        assertTrue(irq.trigger(1));
        assertFalse(irq.trigger(2));
        irq.apply(set(DATA_BOOL | ACTION_UNMASK, 2, 1, (byte) 1), new ArrayList<>());
        assertSignalled(1, e[1]);
        assertSignalled(1, e[2]);
        irq.reset();
    }

    @Test
    void dataBoolNeedsABooleanPerVector() throws Exception {
        IrqIndex irq = new IrqIndex(4, MSIX);
        assertRejected(irq, set(DATA_BOOL | ACTION_TRIGGER, 0, 4, (byte) 1, (byte) 1, (byte) 1), new ArrayList<>());
        assertRejected(irq, set(DATA_BOOL | ACTION_MASK, 1, 1), new ArrayList<>());
    }

    // ---- disable and de-assign ----------------------------------------------------------------------

    @Test
    void dataNoneTriggerWithCountZeroDisablesTheWholeIndex() throws Exception {
        IrqIndex irq = new IrqIndex(3, MSIX);
        EventFd[] e = eventfds(3);
        long descriptors = OpenFiles.descriptors();
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 3, fds(e));
        assertEquals(descriptors + 3, OpenFiles.descriptors());
        Recorder recorder = new Recorder();
        irq.setListener(recorder);

        apply(irq, DATA_NONE | ACTION_TRIGGER, 0, 0);
        assertEquals(descriptors, OpenFiles.descriptors(), "disable must close the eventfds");
        for (int v = 0; v < 3; v++) {
            assertFalse(irq.hasTrigger(v));
        }
        assertEquals(List.of("remove 0", "remove 1", "remove 2"), recorder.events);
        assertFalse(irq.trigger(0));
        assertEquals(1, irq.lostInterrupts());
        for (EventFd x : e) {
            assertSignalled(0, x);
        }
        // disabling an index with nothing installed is fine too
        apply(irq, DATA_NONE | ACTION_TRIGGER, 0, 0);
        apply(IrqIndex.absent(), DATA_NONE | ACTION_TRIGGER, 0, 0);
    }

    @Test
    void countZeroIsOnlyTheDisableRequest() throws Exception {
        IrqIndex irq = new IrqIndex(3, MSIX);
        assertRejected(irq, DATA_NONE | ACTION_TRIGGER, 1, 0, new ArrayList<>());
        assertRejected(irq, DATA_NONE | ACTION_MASK, 0, 0, new ArrayList<>());
        assertRejected(irq, DATA_BOOL | ACTION_TRIGGER, 0, 0, new ArrayList<>());
        assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 0, new ArrayList<>());
        assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 0, fds(eventfd()));
    }

    @Test
    void dataEventfdWithoutFdsDeassigns() throws Exception {
        IrqIndex irq = new IrqIndex(3, MSIX);
        EventFd[] e = eventfds(3);
        EventFd maskNotifier = eventfd();
        long descriptors = OpenFiles.descriptors();
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 3, fds(e));
        apply(irq, DATA_EVENTFD | ACTION_MASK, 2, 1, fds(maskNotifier));
        assertEquals(descriptors + 4, OpenFiles.descriptors());

        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 1, 2);
        assertTrue(irq.hasTrigger(0));
        assertFalse(irq.hasTrigger(1));
        assertFalse(irq.hasTrigger(2));
        assertEquals(descriptors + 2, OpenFiles.descriptors());
        assertTrue(irq.trigger(0));
        assertFalse(irq.trigger(1));
        assertSignalled(1, e[0]);
        assertSignalled(0, e[1]);

        apply(irq, DATA_EVENTFD | ACTION_MASK, 2, 1);
        assertEquals(descriptors + 1, OpenFiles.descriptors());
        irq.mask(2);
        assertSignalled(0, maskNotifier);
        irq.reset();
        assertEquals(descriptors, OpenFiles.descriptors());
    }

    // ---- fd ownership ---------------------------------------------------------------------------------

    @Test
    void applyTakesTheFdsItKeepsAndLeavesTheRest() throws Exception {
        IrqIndex irq = new IrqIndex(4, MSIX);
        EventFd[] e = eventfds(2);
        List<OwnedFd> fds = fds(e);
        List<OwnedFd> copy = List.copyOf(fds);
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 1, 2, fds);
        assertEquals(Arrays.asList(null, null), fds);
        for (OwnedFd fd : copy) {
            assertTrue(fd.isOpen(), "an installed fd must stay open");
        }
        irq.reset();
        for (OwnedFd fd : copy) {
            assertFalse(fd.isOpen());
        }

        // refused: all still the caller's
        List<OwnedFd> refused = fds(e);
        assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 3, refused);
        assertEquals(2, refused.size());
    }

    @Test
    void rejectsAnFdThatIsNotAnEventfdAndInstallsNothing() throws Exception {
        IrqIndex irq = new IrqIndex(2, MSIX);
        EventFd good = eventfd();
        try (OwnedFd memfd = Memfd.create("not-an-eventfd", 4096)) {
            List<OwnedFd> one = new ArrayList<>(List.of(memfd.duplicate()));
            handedOut.addAll(one);
            assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, one);

            List<OwnedFd> mixed = fds(good);
            OwnedFd bad = memfd.duplicate();
            handedOut.add(bad);
            mixed.add(bad);
            assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 2, mixed);
            assertFalse(irq.hasTrigger(0));
            assertFalse(irq.hasTrigger(1));

            // and the good one still works once sent alone
            List<OwnedFd> alone = fds(good);
            apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, alone);
            irq.trigger(0);
            assertSignalled(1, good);
        }
        irq.reset();
    }

    // ---- malformed requests -------------------------------------------------------------------------

    @Test
    void rejectsMissingOrMixedDataBits() throws Exception {
        IrqIndex irq = new IrqIndex(4, MSIX);
        assertRejected(irq, ACTION_TRIGGER, 0, 1, new ArrayList<>());
        assertRejected(irq, DATA_NONE | DATA_BOOL | ACTION_TRIGGER, 0, 1, new ArrayList<>());
        assertRejected(irq, DATA_NONE | DATA_EVENTFD | ACTION_TRIGGER, 0, 1, new ArrayList<>());
        assertRejected(irq, DATA_BOOL | DATA_EVENTFD | ACTION_TRIGGER, 0, 1, fds(eventfd()));
        assertRejected(irq, DATA_NONE | DATA_BOOL | DATA_EVENTFD | ACTION_TRIGGER, 0, 1, new ArrayList<>());
    }

    @Test
    void rejectsMissingOrSeveralActionBits() throws Exception {
        IrqIndex irq = new IrqIndex(4, MSIX);
        assertRejected(irq, DATA_NONE, 0, 1, new ArrayList<>());
        assertRejected(irq, DATA_EVENTFD, 0, 1, fds(eventfd()));
        assertRejected(irq, DATA_NONE | ACTION_MASK | ACTION_UNMASK, 0, 1, new ArrayList<>());
        assertRejected(irq, DATA_NONE | ACTION_MASK | ACTION_TRIGGER, 0, 1, new ArrayList<>());
        assertRejected(irq, DATA_EVENTFD | ACTION_UNMASK | ACTION_TRIGGER, 0, 1, fds(eventfd()));
        assertRejected(irq, DATA_NONE | ACTION_MASK | ACTION_UNMASK | ACTION_TRIGGER, 0, 0, new ArrayList<>());
    }

    @Test
    void rejectsUnknownFlagBits() throws Exception {
        IrqIndex irq = new IrqIndex(4, MSIX);
        for (int unknown : new int[] {0x40, 0x80, 0x100, 0x8000_0000}) {
            assertRejected(irq, DATA_NONE | ACTION_TRIGGER | unknown, 0, 1, new ArrayList<>());
            assertRejected(irq, DATA_NONE | ACTION_TRIGGER | unknown, 0, 0, new ArrayList<>());
            assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER | unknown, 0, 1, fds(eventfd()));
        }
    }

    @Test
    void rejectsVectorsBeyondTheIndex() throws Exception {
        IrqIndex irq = new IrqIndex(4, MSIX);
        int[][] ranges = {
            {3, 2}, {4, 1}, {0, 5}, {0xffff_ffff, 1}, {1, 0xffff_ffff}, {0x8000_0000, 0x8000_0000},
            {0x7fff_ffff, 1}, {0xffff_fffc, 4}, {0xffff_ffff, 0xffff_ffff},
        };
        for (int[] r : ranges) {
            assertRejected(irq, DATA_NONE | ACTION_TRIGGER, r[0], r[1], new ArrayList<>());
            assertRejected(irq, DATA_NONE | ACTION_MASK, r[0], r[1], new ArrayList<>());
            assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, r[0], r[1], new ArrayList<>());
        }
        assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, 3, 2, fds(eventfds(2)));
        assertRejected(IrqIndex.absent(), DATA_NONE | ACTION_TRIGGER, 0, 1, new ArrayList<>());
        assertEquals(0, irq.lostInterrupts(), "nothing was triggered");
        // the last vector is fine
        apply(irq, DATA_NONE | ACTION_MASK, 3, 1);
        assertTrue(irq.isMasked(3));
    }

    @Test
    void rejectsMaskAndUnmaskOnANonMaskableIndex() throws Exception {
        IrqIndex irq = new IrqIndex(2, FLAG_EVENTFD);
        assertRejected(irq, DATA_NONE | ACTION_MASK, 0, 1, new ArrayList<>());
        assertRejected(irq, DATA_NONE | ACTION_UNMASK, 0, 1, new ArrayList<>());
        assertRejected(irq, set(DATA_BOOL | ACTION_MASK, 0, 1, (byte) 1), new ArrayList<>());
        assertRejected(irq, DATA_EVENTFD | ACTION_MASK, 0, 1, fds(eventfd()));
        assertRejected(irq, DATA_EVENTFD | ACTION_UNMASK, 0, 1, new ArrayList<>());
        assertFalse(irq.isMasked(0));
        // triggering is still allowed
        apply(irq, DATA_NONE | ACTION_TRIGGER, 0, 1);
    }

    @Test
    void rejectsEventfdsOnAnIndexWithoutEventfdSupport() throws Exception {
        IrqIndex irq = new IrqIndex(2, FLAG_MASKABLE);
        assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, fds(eventfd()));
        assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, new ArrayList<>());
        assertRejected(irq, DATA_EVENTFD | ACTION_MASK, 0, 1, fds(eventfd()));
        // the other data kinds still work
        apply(irq, DATA_NONE | ACTION_MASK, 0, 1);
        assertTrue(irq.isMasked(0));
    }

    @Test
    void rejectsAnFdCountOtherThanZeroOrTheVectorCount() throws Exception {
        IrqIndex irq = new IrqIndex(4, MSIX);
        assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 2, fds(eventfd()));
        assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 2, fds(eventfds(3)));
        assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, fds(eventfds(2)));
        assertRejected(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 4, fds(eventfds(3)));
    }

    @Test
    void rejectsFdsWithDataNoneOrBool() throws Exception {
        IrqIndex irq = new IrqIndex(2, MSIX);
        assertRejected(irq, DATA_NONE | ACTION_TRIGGER, 0, 1, fds(eventfd()));
        assertRejected(irq, set(DATA_BOOL | ACTION_TRIGGER, 0, 1, (byte) 1), fds(eventfd()));
        assertRejected(irq, DATA_NONE | ACTION_TRIGGER, 0, 0, fds(eventfd()));
    }

    // ---- listener, reset, lost interrupts -----------------------------------------------------------

    @Test
    void listenerHearsInstallsRemovalsMasksAndUnmasks() throws Exception {
        IrqIndex irq = new IrqIndex(3, MSIX);
        Recorder recorder = new Recorder();
        irq.setListener(recorder);
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 2, fds(eventfds(2)));
        apply(irq, DATA_NONE | ACTION_MASK, 1, 2);
        irq.apply(set(DATA_BOOL | ACTION_UNMASK, 0, 3, (byte) 0, (byte) 1, (byte) 0), new ArrayList<>());
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 1, 1);
        apply(irq, DATA_EVENTFD | ACTION_MASK, 2, 1, fds(eventfd())); // not a trigger: no triggerChanged
        irq.mask(0); // device side: not the client's change
        irq.trigger(0);
        assertEquals(List.of("install 0", "install 1", "mask 1", "mask 2", "unmask 1", "remove 1"), recorder.events);
        irq.reset();
        assertEquals("remove 0", recorder.events.get(recorder.events.size() - 1));
    }

    @Test
    void resetClosesEverythingAndClearsState() throws Exception {
        IrqIndex irq = new IrqIndex(3, MSIX);
        EventFd[] triggers = eventfds(3);
        EventFd[] masks = eventfds(3);
        EventFd[] unmasks = eventfds(3);
        long descriptors = OpenFiles.descriptors();
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 3, fds(triggers));
        apply(irq, DATA_EVENTFD | ACTION_MASK, 0, 3, fds(masks));
        apply(irq, DATA_EVENTFD | ACTION_UNMASK, 0, 3, fds(unmasks));
        apply(irq, DATA_NONE | ACTION_MASK, 0, 2);
        irq.trigger(1);
        assertTrue(irq.isPending(1));
        assertEquals(descriptors + 9, OpenFiles.descriptors());

        irq.reset();
        assertEquals(descriptors, OpenFiles.descriptors(), "reset must close every client eventfd");
        for (int v = 0; v < 3; v++) {
            assertFalse(irq.hasTrigger(v));
            assertFalse(irq.isMasked(v));
            assertFalse(irq.isPending(v));
        }
        irq.mask(0);
        irq.unmask(0);
        assertFalse(irq.trigger(2));
        for (int v = 0; v < 3; v++) {
            assertSignalled(0, triggers[v]);
            assertSignalled(0, masks[v]);
            assertSignalled(0, unmasks[v]);
        }
        irq.reset(); // idempotent
        assertEquals(descriptors, OpenFiles.descriptors());
    }

    @Test
    void lostInterruptsCountsTriggersWithNoEventfd() throws Exception {
        IrqIndex irq = new IrqIndex(2, MSIX);
        assertEquals(0, irq.lostInterrupts());
        assertFalse(irq.trigger(0));
        assertFalse(irq.trigger(1));
        assertFalse(irq.trigger(1));
        assertEquals(3, irq.lostInterrupts());

        // masked: pending, not lost; unmasked with no eventfd to deliver to: lost then
        apply(irq, DATA_NONE | ACTION_MASK, 0, 1);
        irq.trigger(0);
        assertEquals(3, irq.lostInterrupts());
        apply(irq, DATA_NONE | ACTION_UNMASK, 0, 1);
        assertEquals(4, irq.lostInterrupts());

        EventFd e = eventfd();
        apply(irq, DATA_EVENTFD | ACTION_TRIGGER, 0, 1, fds(e));
        irq.trigger(0);
        assertEquals(4, irq.lostInterrupts());
        assertSignalled(1, e);

        // an automasked index that finds no eventfd loses the interrupt but still masks itself
        IrqIndex intx = new IrqIndex(1, INTX);
        assertFalse(intx.trigger(0));
        assertEquals(1, intx.lostInterrupts());
        assertTrue(intx.isMasked(0));
        irq.reset();
    }

    @Test
    void exposesCountAndInfoFlags() {
        IrqIndex irq = new IrqIndex(5, INTX);
        assertEquals(5, irq.count());
        assertEquals(INTX, irq.infoFlags());
    }
}

package io.umdev.emudev;

import static io.umdev.emudev.testing.ClientIrqs.signals;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.emudev.pci.PciBar;
import io.umdev.emudev.testing.OpenFiles;
import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.OwnedFd;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A BAR's space: trapped registers, shared memory, doorbells, and what its builder refuses. */
class BarTest {
    private static final long PAGE = MappedMemory.PAGE_SIZE;

    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
    }

    private <T extends AutoCloseable> T closeLater(T resource) {
        cleanup.add(resource);
        return resource;
    }

    /** Records every access with its trap-relative offset and length; reads answer a fixed pattern. */
    static final class Recorder implements RegisterHandler {
        final List<String> accesses = new ArrayList<>();
        final byte fill;

        Recorder(int fill) {
            this.fill = (byte) fill;
        }

        @Override
        public int read(long offset, MemorySegment dst) {
            accesses.add("r" + Long.toHexString(offset) + "+" + dst.byteSize());
            dst.fill(fill);
            return Errno.OK;
        }

        @Override
        public int write(long offset, MemorySegment src) {
            accesses.add("w" + Long.toHexString(offset) + "+" + src.byteSize() + "=" + Long.toHexString(value(src)));
            return Errno.OK;
        }
    }

    static long value(MemorySegment s) {
        long v = 0;
        for (int i = 0; i < s.byteSize(); i++) {
            v |= (s.get(JAVA_BYTE, i) & 0xffL) << (8 * i);
        }
        return v;
    }

    static MemorySegment bytes(int length, long value) {
        MemorySegment s = MemorySegment.ofArray(new byte[length]);
        for (int i = 0; i < length; i++) {
            s.set(JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        return s;
    }

    static long read(Bar bar, long offset, int length) {
        MemorySegment dst = MemorySegment.ofArray(new byte[length]);
        assertEquals(Errno.OK, bar.read(offset, dst), "read at 0x" + Long.toHexString(offset));
        return value(dst);
    }

    // ---- traps ---------------------------------------------------------------------------------------

    @Test
    void trappedRangesReachTheirHandlerWithTrapRelativeOffsets() throws Exception {
        Recorder a = new Recorder(0xaa);
        Recorder b = new Recorder(0xbb);
        Recorder c = new Recorder(0xcc);
        Bar bar = closeLater(Bar.memory32(0, 4096)
                .trap(0x800, 0x100, c)
                .trap(0x0, 0x40, a)
                .trap(0x100, 0x10, b)
                .build());
        assertEquals(0xaaaaaaaaL, read(bar, 0x10, 4));
        assertEquals(Errno.OK, bar.write(0x3c, bytes(4, 0x11223344)));
        assertEquals(Errno.OK, bar.write(0x108, bytes(8, 0x0102030405060708L)));
        assertEquals(0xbbL, read(bar, 0x10f, 1));
        assertEquals(0xccccL, read(bar, 0x8fe, 2));
        assertEquals(Errno.OK, bar.write(0x800, bytes(2, 0xbeef)));
        assertEquals(List.of("r10+4", "w3c+4=11223344"), a.accesses);
        assertEquals(List.of("w8+8=102030405060708", "rf+1"), b.accesses);
        assertEquals(List.of("rfe+2", "w0+2=beef"), c.accesses);
    }

    @Test
    void handlerErrorsReachTheCaller() throws Exception {
        RegisterHandler failing = new RegisterHandler() {
            @Override
            public int read(long offset, MemorySegment dst) {
                return Errno.EIO;
            }

            @Override
            public int write(long offset, MemorySegment src) {
                return Errno.EBUSY;
            }
        };
        Bar bar = closeLater(Bar.memory32(0, 4096).trap(0x20, 8, failing).build());
        assertEquals(Errno.EIO, bar.read(0x20, MemorySegment.ofArray(new byte[4])));
        assertEquals(Errno.EBUSY, bar.write(0x24, bytes(4, 1)));
    }

    @Test
    void accessesStraddlingATrapEdgeAreRefused() throws Exception {
        Recorder r = new Recorder(0x11);
        Bar bar = closeLater(Bar.memory32(0, 4096).sharedMemory("straddle").trap(0x100, 0x40, r).build());
        bar.memory().fill((byte) 0x5a);
        long[][] straddling = {{0xfe, 4}, {0xff, 2}, {0x13e, 4}, {0x13f, 2}, {0xf8, 0x50}, {0x100, 0x41}};
        for (long[] access : straddling) {
            String what = "access [0x" + Long.toHexString(access[0]) + ", +" + access[1] + ")";
            assertEquals(Errno.EINVAL, bar.read(access[0], MemorySegment.ofArray(new byte[(int) access[1]])), what);
            assertEquals(Errno.EINVAL, bar.write(access[0], bytes((int) access[1], -1L)), what);
        }
        assertTrue(r.accesses.isEmpty(), "the handler never saw a straddling access");
        for (long at = 0; at < 4096; at++) {
            assertEquals((byte) 0x5a, bar.memory().get(JAVA_BYTE, at), "memory changed at 0x" + Long.toHexString(at));
        }
        // Right up to the edges is fine.
        assertEquals(0x5a5a5a5aL, read(bar, 0xfc, 4));
        assertEquals(0x11111111L, read(bar, 0x100, 4));
        assertEquals(0x11111111L, read(bar, 0x13c, 4));
        assertEquals(0x5a5a5a5aL, read(bar, 0x140, 4));
    }

    // ---- shared memory ---------------------------------------------------------------------------------

    @Test
    void sharedMemoryAccessesReadAndWriteTheMemfd() throws Exception {
        Bar bar = closeLater(Bar.memory64(2, 2 * PAGE, true).sharedMemory("shared").mappable(0, 2 * PAGE).build());
        assertNotNull(bar.memory());
        assertEquals(2 * PAGE, bar.memory().byteSize());
        OwnedFd fd = bar.memoryFd();
        assertTrue(fd.isOpen());
        MappedMemory other = closeLater(MappedMemory.map(fd, 0, 2 * PAGE, true));

        assertEquals(Errno.OK, bar.write(0x10, bytes(8, 0x1122334455667788L)));
        assertEquals(0x1122334455667788L, bar.memory().get(JAVA_LONG_UNALIGNED, 0x10), "visible through memory()");
        assertEquals(0x1122334455667788L, other.segment().get(JAVA_LONG_UNALIGNED, 0x10), "and through the memfd");

        other.segment().set(JAVA_INT_UNALIGNED, PAGE + 4, 0xcafef00d);
        assertEquals(0xcafef00dL, read(bar, PAGE + 4, 4), "what a client writes through its mapping, the BAR reads");
        assertEquals(Errno.OK, bar.write(2 * PAGE - 1, bytes(1, 0x7f)));
        assertEquals(0x7f, other.segment().get(JAVA_BYTE, 2 * PAGE - 1));
    }

    @Test
    void aBarWithoutMemoryRefusesAccessesOutsideItsTraps() throws Exception {
        Recorder r = new Recorder(0x22);
        Bar bar = closeLater(Bar.memory32(0, 4096).trap(0x40, 0x40, r).build());
        assertNull(bar.memory());
        assertNull(bar.memoryFd());
        assertEquals(Errno.EINVAL, bar.read(0, MemorySegment.ofArray(new byte[4])));
        assertEquals(Errno.EINVAL, bar.write(0x80, bytes(4, 1)));
        assertEquals(Errno.EINVAL, bar.read(0xffc, MemorySegment.ofArray(new byte[4])));
        assertEquals(0x22222222L, read(bar, 0x40, 4));
        assertEquals(List.of("r0+4"), r.accesses);
    }

    // ---- builder refusals ----------------------------------------------------------------------------

    @Test
    void builderRefusesOverlappingTraps() {
        Recorder r = new Recorder(0);
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4096).trap(0, 0x20, r).trap(0x1c, 4, r).build());
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4096).trap(0x100, 0x10, r).trap(0x80, 0x100, r).build());
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4096).trap(0, 4, r).trap(0, 4, r).build());
        // Adjacent is fine.
        Bar adjacent = assertBuilds(Bar.memory32(0, 4096).trap(0, 0x20, r).trap(0x20, 4, r));
        assertEquals(0, adjacent.read(0x1c, MemorySegment.ofArray(new byte[4])));
    }

    @Test
    void builderRefusesATrapInsideAMappableArea() {
        Recorder r = new Recorder(0);
        long descriptors = OpenFiles.descriptors();
        assertThrows(IllegalArgumentException.class,
                () -> Bar.memory32(0, 4 * PAGE).sharedMemory("m").mappable(PAGE, PAGE).trap(PAGE + 8, 4, r).build());
        assertThrows(IllegalArgumentException.class,
                () -> Bar.memory32(0, 4 * PAGE).sharedMemory("m").mappable(PAGE, PAGE).trap(PAGE - 4, 8, r).build());
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4 * PAGE).sharedMemory("m")
                .mappable(0, 4 * PAGE).writeDoorbell(0x40, 4, r).build(), "a doorbell trap counts too");
        assertEquals(descriptors, OpenFiles.descriptors(), "a refused BAR holds no memfd");
        Bar beside = assertBuilds(Bar.memory32(0, 4 * PAGE).sharedMemory("m").mappable(PAGE, PAGE).trap(0, PAGE, r)
                .trap(2 * PAGE, 4, r));
        assertEquals(List.of(new Bar.MappableArea(PAGE, PAGE)), beside.mappableAreas());
    }

    @Test
    void builderRefusesUnalignedMappableAreasAndMappableWithoutMemory() {
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4 * PAGE).sharedMemory("m").mappable(8, PAGE));
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4 * PAGE).sharedMemory("m").mappable(0, PAGE - 8));
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4 * PAGE).sharedMemory("m").mappable(PAGE, 100));
        assertThrows(IllegalStateException.class, () -> Bar.memory32(0, 4 * PAGE).mappable(0, PAGE));
    }

    @Test
    void builderRefusesRangesOutsideTheBar() {
        Recorder r = new Recorder(0);
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4096).trap(4096, 4, r));
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4096).trap(4094, 4, r));
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4096).trap(-4, 8, r));
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4096).trap(0, 0, r));
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4096).trap(0, 4097, r));
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4096).trap(Long.MAX_VALUE, 2, r));
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4096).sharedMemory("m").mappable(4096, 4096));
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4096).writeDoorbell(4094, 4, r));
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4096).eventFdDoorbell(4096, 4, null, null));
        assertThrows(IllegalArgumentException.class, () -> Bar.io(0, 16).trap(12, 8, r));
        assertBuilds(Bar.memory32(0, 4096).trap(0, 4096, r));
    }

    @Test
    void builderRefusesMemoryBehindAnIoBar() {
        assertThrows(IllegalArgumentException.class, () -> Bar.io(1, 256).sharedMemory("io"));
        Bar io = assertBuilds(Bar.io(1, 256).trap(0, 256, new Recorder(0x33)));
        assertEquals(PciBar.Kind.IO, io.shape().kind());
        assertEquals(0x33333333L, read(io, 0xfc, 4));
    }

    @Test
    void builderRefusesPolledDoorbellsOutsideMappableMemory() {
        assertThrows(IllegalArgumentException.class,
                () -> Bar.memory32(0, 4 * PAGE).sharedMemory("m").mappable(0, PAGE).polledDoorbell(PAGE));
        assertThrows(IllegalArgumentException.class,
                () -> Bar.memory32(0, 4 * PAGE).sharedMemory("m").mappable(0, PAGE).polledDoorbell(4), "unaligned");
        assertThrows(IllegalArgumentException.class,
                () -> Bar.memory32(0, 4 * PAGE).sharedMemory("m").mappable(0, PAGE).polledDoorbell(PAGE - 4));
        assertThrows(IllegalArgumentException.class, () -> Bar.memory32(0, 4 * PAGE).polledDoorbell(0));
    }

    private Bar assertBuilds(Bar.Builder builder) {
        try {
            return closeLater(builder.build());
        } catch (Exception e) {
            throw new AssertionError("the BAR should build", e);
        }
    }

    // ---- doorbells -----------------------------------------------------------------------------------

    @Test
    void eventFdDoorbellSignalsOnAMessageWrite() throws Exception {
        EventFd kick = EventFd.createNonBlocking();
        Bar bar = closeLater(Bar.memory32(0, 4096).eventFdDoorbell(0x40, 4, kick, null).build());
        assertEquals(Errno.OK, bar.write(0x40, bytes(4, 0)));
        assertEquals(Errno.OK, bar.write(0x40, bytes(4, 12345)));
        assertEquals(2, signals(kick), "any value rings it");
        assertEquals(0, read(bar, 0x40, 4), "the doorbell reads 0");
        assertEquals(0, signals(kick), "a read does not ring");
        Doorbell.EventFdDoorbell d = assertInstanceOf(Doorbell.EventFdDoorbell.class, bar.doorbells().get(0));
        assertEquals(0, d.bar());
        assertEquals(0x40, d.offset());
        assertEquals(4, d.width());
        assertEquals(kick, d.eventFd());
        assertNull(d.datamatch());
    }

    @Test
    void eventFdDoorbellDatamatchFiltersValues() throws Exception {
        EventFd queue0 = EventFd.createNonBlocking();
        EventFd queue1 = EventFd.createNonBlocking();
        Bar bar = closeLater(Bar.memory32(0, 4096)
                .eventFdDoorbell(0x40, 2, queue0, 0L)
                .eventFdDoorbell(0x42, 2, queue1, 0xbeefL)
                .build());
        assertEquals(Errno.OK, bar.write(0x40, bytes(2, 1)));
        assertEquals(Errno.OK, bar.write(0x42, bytes(2, 0xbeee)));
        assertEquals(0, signals(queue0));
        assertEquals(0, signals(queue1));
        assertEquals(Errno.OK, bar.write(0x40, bytes(2, 0)));
        assertEquals(Errno.OK, bar.write(0x42, bytes(2, 0xbeef)));
        assertEquals(1, signals(queue0));
        assertEquals(1, signals(queue1));
        assertEquals(2, bar.doorbells().size());
    }

    @Test
    void writeDoorbellCallsItsHandler() throws Exception {
        Recorder r = new Recorder(0);
        Bar bar = closeLater(Bar.memory32(0, 4096).writeDoorbell(0x80, 4, r).build());
        assertEquals(Errno.OK, bar.write(0x80, bytes(4, 7)));
        assertEquals(List.of("w0+4=7"), r.accesses);
        Doorbell.WriteDoorbell d = assertInstanceOf(Doorbell.WriteDoorbell.class, bar.doorbells().get(0));
        assertEquals(0x80, d.offset());
        assertEquals(r, d.handler());
    }

    @Test
    void polledDoorbellWordIsAViewOfTheSharedMemory() throws Exception {
        Bar bar = closeLater(Bar.memory32(4, 4 * PAGE).sharedMemory("polled").mappable(PAGE, PAGE)
                .polledDoorbell(PAGE + 0x18).build());
        Doorbell.PolledDoorbell d = assertInstanceOf(Doorbell.PolledDoorbell.class, bar.doorbells().get(0));
        assertEquals(4, d.bar());
        assertEquals(PAGE + 0x18, d.offset());
        assertEquals(Long.BYTES, d.word().byteSize());
        assertEquals(0, d.word().get(JAVA_LONG_UNALIGNED, 0));
        MappedMemory client = closeLater(MappedMemory.map(bar.memoryFd(), PAGE, PAGE, true));
        client.segment().set(JAVA_LONG_UNALIGNED, 0x18, 42);
        assertEquals(42, d.word().get(JAVA_LONG_UNALIGNED, 0), "the guest's store is what the device polls");
        assertEquals(Errno.OK, bar.write(PAGE + 0x18, bytes(8, 43)));
        assertEquals(43, d.word().get(JAVA_LONG_UNALIGNED, 0), "and a message write lands there too");
        d.word().set(JAVA_LONG_UNALIGNED, 0, 0);
        assertEquals(0, bar.memory().get(JAVA_LONG_UNALIGNED, PAGE + 0x18));
    }

    // ---- close ---------------------------------------------------------------------------------------

    @Test
    void closeReleasesTheMemfdTheMappingAndTheDoorbellEventfds() throws Exception {
        long descriptors = OpenFiles.descriptors();
        long mappings = OpenFiles.memfdMappings();
        EventFd kick = EventFd.createNonBlocking();
        EventFd other = EventFd.createNonBlocking();
        Bar bar = Bar.memory32(0, 4 * PAGE)
                .sharedMemory("closing")
                .mappable(PAGE, PAGE)
                .eventFdDoorbell(0x10, 4, kick, null)
                .eventFdDoorbell(0x20, 4, other, 1L)
                .polledDoorbell(PAGE)
                .build();
        assertEquals(descriptors + 3, OpenFiles.descriptors(), "memfd and two eventfds");
        assertEquals(mappings + 1, OpenFiles.memfdMappings());
        OwnedFd memfd = bar.memoryFd();
        bar.close();
        assertFalse(memfd.isOpen());
        assertFalse(kick.fd().isOpen());
        assertFalse(other.fd().isOpen());
        assertEquals(descriptors, OpenFiles.descriptors());
        assertEquals(mappings, OpenFiles.memfdMappings());
        bar.close();
        assertEquals(descriptors, OpenFiles.descriptors(), "closing twice is harmless");
    }

    @Test
    void shapeAccessors() throws Exception {
        Bar bar = closeLater(Bar.memory64(2, 1 << 20, true).build());
        assertEquals(2, bar.index());
        assertEquals(1 << 20, bar.size());
        assertEquals(PciBar.memory64(2, 1 << 20, true), bar.shape());
        assertTrue(bar.doorbells().isEmpty());
        assertTrue(bar.mappableAreas().isEmpty());
    }
}

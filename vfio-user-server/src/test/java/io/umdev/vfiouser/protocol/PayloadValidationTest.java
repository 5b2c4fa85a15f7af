package io.umdev.vfiouser.protocol;

import static io.umdev.vfiouser.protocol.WireBytes.le;
import static io.umdev.vfiouser.protocol.WireBytes.segment;
import static io.umdev.vfiouser.protocol.WireBytes.zeroed;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.umdev.linux.Errno;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every way a payload can be malformed is refused with a {@link ProtocolException} carrying EINVAL,
 * before any field beyond the payload is read.
 */
class PayloadValidationTest {

    /** A decoder, with the size of its fixed structure and whether that structure starts with argsz. */
    record Decoder(String name, int fixedSize, boolean hasArgsz, Decode decode) {
        @Override
        public String toString() {
            return name;
        }
    }

    @FunctionalInterface
    interface Decode {
        Object apply(MemorySegment payload) throws ProtocolException;
    }

    static Stream<Decoder> decoders() {
        return Stream.of(
                new Decoder("VERSION", 4, false, VersionPayload::decode),
                new Decoder("DMA_MAP", 32, true, DmaMapPayload::decode),
                new Decoder("DMA_UNMAP", 24, true, DmaUnmapPayload::decode),
                new Decoder("DEVICE_GET_INFO", 16, true, DeviceInfoPayload::decode),
                new Decoder("DEVICE_GET_REGION_INFO", 32, true, RegionInfoPayload::decode),
                new Decoder("DEVICE_GET_REGION_IO_FDS", 16, true, RegionIoFdsPayload::decode),
                new Decoder("DEVICE_GET_IRQ_INFO", 16, true, IrqInfoPayload::decode),
                new Decoder("DEVICE_SET_IRQS", 20, true, IrqSetPayload::decode),
                new Decoder("REGION_READ/WRITE", 16, false, RegionAccessPayload::decode),
                new Decoder("DMA_READ/WRITE", 16, false, DmaAccessPayload::decode),
                new Decoder("REGION_WRITE_MULTI", 8, false, WriteMultiPayload::count),
                new Decoder("DEVICE_FEATURE", 8, true, DeviceFeaturePayload::decode),
                new Decoder("MIG_DATA", 8, true, MigDataPayload::decode));
    }

    static Stream<Decoder> argszDecoders() {
        return decoders().filter(Decoder::hasArgsz);
    }

    private static void assertInvalid(Executable call) {
        ProtocolException e = assertThrows(ProtocolException.class, call);
        assertEquals(Errno.EINVAL, e.errno(), e.getMessage());
    }

    /** A payload of {@code size} bytes whose argsz (if any) claims the fixed size, so only the length is wrong. */
    private static MemorySegment payload(Decoder d, int size) {
        MemorySegment p = zeroed(size);
        if (d.hasArgsz() && size >= 4) {
            p.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN).putInt(0, d.fixedSize());
        }
        return p;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("decoders")
    void rejectsEveryPayloadShorterThanItsStructure(Decoder d) {
        for (int size = 0; size < d.fixedSize(); size++) {
            MemorySegment p = payload(d, size);
            assertInvalid(() -> d.decode().apply(p));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("decoders")
    void acceptsAPayloadOfExactlyItsStructure(Decoder d) throws Exception {
        MemorySegment p = payload(d, d.fixedSize());
        assertDoesNotThrow(() -> d.decode().apply(p));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("argszDecoders")
    void rejectsArgszSmallerThanTheStructure(Decoder d) {
        for (int argsz = 0; argsz < d.fixedSize(); argsz++) {
            ByteBuffer wire = le(d.fixedSize() + 8);
            wire.putInt(0, argsz);
            MemorySegment p = segment(wire);
            assertInvalid(() -> d.decode().apply(p));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("argszDecoders")
    void treatsArgszAsUnsigned(Decoder d) {
        ByteBuffer wire = le(d.fixedSize());
        wire.putInt(0, 0x8000_0000);
        assertDoesNotThrow(() -> d.decode().apply(segment(wire)));
        wire.putInt(0, -1);
        assertDoesNotThrow(() -> d.decode().apply(segment(wire)));
    }

    // ---- VERSION --------------------------------------------------------------------------------

    @Test
    void rejectsVersionJsonWithoutNul() {
        byte[] wire = {0, 0, 0, 0, '{', '}'};
        assertInvalid(() -> VersionPayload.decode(WireBytes.of(wire)));
        byte[] one = {0, 0, 0, 0, '{'};
        assertInvalid(() -> VersionPayload.decode(WireBytes.of(one)));
    }

    // ---- REGION_WRITE_MULTI ---------------------------------------------------------------------

    private static MemorySegment writeMulti(long count, int entries) {
        ByteBuffer wire = le(8 + entries * 24);
        wire.putLong(0, count);
        for (int i = 0; i < entries; i++) {
            wire.putInt(8 + i * 24 + 12, 4);
        }
        return segment(wire);
    }

    @Test
    void rejectsWriteMultiCountLargerThanThePayload() {
        assertInvalid(() -> WriteMultiPayload.count(writeMulti(1, 0)));
        assertInvalid(() -> WriteMultiPayload.count(writeMulti(3, 2)));
        assertInvalid(() -> WriteMultiPayload.count(writeMulti(Integer.MAX_VALUE + 1L, 1)));
        assertInvalid(() -> WriteMultiPayload.count(writeMulti(-1L, 1)));
        assertInvalid(() -> WriteMultiPayload.count(writeMulti(Long.MIN_VALUE, 1)));
    }

    @Test
    void rejectsWriteMultiCountNotMatchingTheSize() {
        assertInvalid(() -> WriteMultiPayload.count(writeMulti(1, 2)));
        assertInvalid(() -> WriteMultiPayload.count(writeMulti(0, 1)));
        // a trailing partial entry
        ByteBuffer wire = le(8 + 24 + 10);
        wire.putLong(0, 1).putInt(8 + 12, 4);
        assertInvalid(() -> WriteMultiPayload.count(segment(wire)));
        // a short last entry
        ByteBuffer shortEntry = le(8 + 24 + 16);
        shortEntry.putLong(0, 2);
        assertInvalid(() -> WriteMultiPayload.count(segment(shortEntry)));
    }

    @Test
    void acceptsWriteMultiCountMatchingTheSize() throws Exception {
        assertEquals(3, WriteMultiPayload.count(writeMulti(3, 3)));
        assertEquals(200, WriteMultiPayload.count(writeMulti(200, 200)));
    }

    @Test
    void rejectsWriteMultiEntryWithCountZeroOrAboveEight() throws Exception {
        for (int bad : new int[] {0, 9, 16, 0x7fff_ffff, -1, 0x8000_0000}) {
            ByteBuffer wire = le(8 + 2 * 24);
            wire.putLong(0, 2).putInt(8 + 12, 8).putInt(8 + 24 + 12, bad);
            MemorySegment p = segment(wire);
            assertEquals(2, WriteMultiPayload.count(p));
            assertDoesNotThrow(() -> WriteMultiPayload.write(p, 0));
            assertInvalid(() -> WriteMultiPayload.write(p, 1));
        }
        for (int good = 1; good <= 8; good++) {
            ByteBuffer wire = le(8 + 24);
            wire.putLong(0, 1).putInt(8 + 12, good);
            assertEquals(good, WriteMultiPayload.write(segment(wire), 0).data().byteSize());
        }
    }

    // ---- REGION_IO_FDS --------------------------------------------------------------------------

    @Test
    void rejectsRegionIoFdsSubregionOutsideTheReply() throws Exception {
        MemorySegment reply = zeroed(16 + 2 * 40);
        assertDoesNotThrow(() -> RegionIoFdsPayload.decodeSubregion(reply, 1, 40));
        assertInvalid(() -> RegionIoFdsPayload.decodeSubregion(reply, 2, 40));
        assertInvalid(() -> RegionIoFdsPayload.decodeSubregion(reply, 1, 41));
        assertInvalid(() -> RegionIoFdsPayload.decodeSubregion(reply, 0x7fff_ffff, 40));
        assertInvalid(() -> RegionIoFdsPayload.decodeSubregion(reply, 1, 0xffff_ffffL));
        assertInvalid(() -> RegionIoFdsPayload.decodeSubregion(zeroed(16 + 39), 0, 40));
        assertInvalid(() -> RegionIoFdsPayload.decodeSubregion(zeroed(16), 0, 40));
        assertInvalid(() -> RegionIoFdsPayload.decodeSubregion(zeroed(8), 0, 40));
    }

    @Test
    void rejectsRegionIoFdsStrideShorterThanAnEntry() {
        MemorySegment reply = zeroed(16 + 4 * 40);
        for (long stride : new long[] {0, 1, 24, 39}) {
            assertInvalid(() -> RegionIoFdsPayload.decodeSubregion(reply, 1, stride));
        }
        assertInvalid(() -> RegionIoFdsPayload.decodeSubregion(reply, 0, -40));
    }

    // ---- errors -----------------------------------------------------------------------------------

    @Test
    void protocolExceptionCarriesItsErrnoAndNoStackTrace() {
        ProtocolException e = ProtocolException.invalid("bad %s at %d", "thing", 7);
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals("bad thing at 7", e.getMessage());
        assertEquals(0, e.getStackTrace().length);
        assertEquals(Errno.EPROTO, new ProtocolException(Errno.EPROTO, "x").errno());
    }
}

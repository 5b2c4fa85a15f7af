package io.umdev.vfiouser.protocol;

import static io.umdev.vfiouser.protocol.WireBytes.bytes;
import static io.umdev.vfiouser.protocol.WireBytes.le;
import static io.umdev.vfiouser.protocol.WireBytes.segment;
import static io.umdev.vfiouser.protocol.WireBytes.zeroed;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.umdev.linux.Errno;
import io.umdev.vfiouser.protocol.RegionCapability.Area;
import io.umdev.vfiouser.protocol.RegionCapability.RegionType;
import io.umdev.vfiouser.protocol.RegionCapability.SparseMmap;
import io.umdev.vfiouser.protocol.RegionCapability.Unknown;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Region-info capability chains (struct vfio_info_cap_header: id u16 @0, version u16 @2, next u32
 * @4; sparse mmap: nr_areas u32 @8, reserved u32 @12, areas of {offset u64, size u64} from @16;
 * type: type u32 @8, subtype u32 @12). Offsets are from the start of the region info, whose fixed
 * part is 32 bytes. Hostile chains must end in a {@link ProtocolException}, never in another
 * exception and never in a read outside the reply.
 */
class RegionCapabilitiesTest {
    private static final int INFO = 32;

    private static void assertInvalid(Executable call) {
        ProtocolException e = assertThrows(ProtocolException.class, call);
        assertEquals(Errno.EINVAL, e.errno(), e.getMessage());
    }

    /** Writes a capability header by hand. */
    private static void header(ByteBuffer b, int at, int id, int version, long next) {
        b.putShort(at, (short) id).putShort(at + 2, (short) version).putInt(at + 4, (int) next);
    }

    /** Decodes with the reply given as exactly these bytes (a heap segment: reading past it throws). */
    private static List<RegionCapability> decode(ByteBuffer b, long first) throws ProtocolException {
        return RegionCapabilities.decodeChain(segment(b), first);
    }

    @Test
    void encodesSparseMmapThenTypeAtSpecOffsets() {
        List<RegionCapability> chain = List.of(
                new SparseMmap(List.of(new Area(0x1000, 0x2000), new Area(0xffff_0000_0000_0000L, 0x8000_0000_0000_0000L))),
                new RegionType(0x8086_0001, 0xffff_fffe));
        assertEquals(16 + 2 * 16 + 16, RegionCapabilities.chainSize(chain));
        MemorySegment info = zeroed(INFO + RegionCapabilities.chainSize(chain));
        info.asSlice(INFO).fill((byte) 0x5a); // reserved must be written as 0, not left
        RegionCapabilities.encodeChain(chain, info, INFO);

        ByteBuffer expected = le(96);
        header(expected, 32, 1, 1, 80);
        expected.putInt(40, 2).putInt(44, 0);
        expected.putLong(48, 0x1000).putLong(56, 0x2000);
        expected.putLong(64, 0xffff_0000_0000_0000L).putLong(72, 0x8000_0000_0000_0000L);
        header(expected, 80, 2, 1, 0);
        expected.putInt(88, 0x8086_0001).putInt(92, 0xffff_fffe);
        assertArrayEquals(expected.array(), bytes(info));
    }

    @Test
    void decodesAChainItEncoded() throws Exception {
        List<RegionCapability> chain = List.of(
                new RegionType(3, 1),
                new SparseMmap(List.of(new Area(0, 0x1000), new Area(0x3000, 0x1000), new Area(0x8000, 0x8000))),
                new SparseMmap(List.of()),
                new Unknown(0x7777, 9));
        MemorySegment info = zeroed(INFO + RegionCapabilities.chainSize(chain));
        RegionCapabilities.encodeChain(chain, info, INFO);
        assertEquals(chain, RegionCapabilities.decodeChain(info, INFO));
    }

    @Test
    void decodesHandWrittenChainWithGapsBetweenCapabilities() throws Exception {
        ByteBuffer b = le(160);
        header(b, 40, 2, 1, 96);
        b.putInt(48, 7).putInt(52, 8);
        header(b, 96, 1, 1, 0);
        b.putInt(104, 1).putLong(112, 0x4000).putLong(120, 0x1000);
        assertEquals(List.of(new RegionType(7, 8), new SparseMmap(List.of(new Area(0x4000, 0x1000)))), decode(b, 40));
    }

    @Test
    void capOffsetZeroIsAnEmptyChain() throws Exception {
        assertEquals(List.of(), RegionCapabilities.decodeChain(zeroed(INFO), 0));
        assertEquals(List.of(), RegionCapabilities.decodeChain(zeroed(0), 0));
    }

    @Test
    void keepsUnknownCapabilitiesAsUnknown() throws Exception {
        ByteBuffer b = le(64);
        header(b, 32, 0xfffe, 0xabcd, 48);
        header(b, 48, 2, 1, 0);
        b.putInt(56, 1).putInt(60, 2);
        assertEquals(List.of(new Unknown(0xfffe, 0xabcd), new RegionType(1, 2)), decode(b, 32));
    }

    @Test
    void unknownCapabilityRoundTripsAsAHeaderOnly() throws Exception {
        Unknown unknown = new Unknown(0x1234, 0x5678);
        assertEquals(8, unknown.encodedSize());
        MemorySegment info = zeroed(INFO + 8);
        RegionCapabilities.encodeChain(List.of(unknown), info, INFO);
        ByteBuffer expected = le(40);
        header(expected, 32, 0x1234, 0x5678, 0);
        assertArrayEquals(expected.array(), bytes(info));
        assertEquals(List.of(unknown), RegionCapabilities.decodeChain(info, INFO));
    }

    @Test
    void sparseMmapCopiesItsAreas() {
        List<Area> areas = new ArrayList<>(List.of(new Area(0, 4096)));
        SparseMmap sparse = new SparseMmap(areas);
        areas.clear();
        assertEquals(1, sparse.areas().size());
    }

    // ---- hostile chains -------------------------------------------------------------------------

    @Test
    void rejectsCapabilityPointingToItself() {
        ByteBuffer b = le(64);
        header(b, 32, 2, 1, 32);
        assertInvalid(() -> decode(b, 32));
    }

    @Test
    void rejectsChainGoingBackwards() {
        ByteBuffer b = le(80);
        header(b, 32, 2, 1, 48);
        header(b, 48, 2, 1, 64);
        header(b, 64, 2, 1, 32);
        assertInvalid(() -> decode(b, 32));
        ByteBuffer intoHeader = le(80);
        header(intoHeader, 48, 0x99, 1, 40);
        assertInvalid(() -> decode(intoHeader, 48));
    }

    @Test
    void rejectsNextBeyondTheReply() {
        for (long next : new long[] {64, 60, 57, 100, 0x7fff_ffffL, 0x8000_0000L, 0xffff_fff8L, 0xffff_ffffL}) {
            ByteBuffer b = le(64);
            header(b, 32, 0x99, 1, next);
            assertInvalid(() -> decode(b, 32));
        }
        // the last header fits exactly
        ByteBuffer fits = le(64);
        header(fits, 32, 0x99, 1, 56);
        header(fits, 56, 0x98, 1, 0);
        assertDoesNotThrowProtocol(() -> decode(fits, 32));
    }

    @Test
    void rejectsCapOffsetInsideTheFixedHeader() {
        for (long first : new long[] {1, 4, 8, 16, 24, 31}) {
            ByteBuffer b = le(96);
            header(b, (int) first, 0x99, 1, 0);
            assertInvalid(() -> decode(b, first));
        }
    }

    @Test
    void rejectsCapOffsetBeyondTheReply() {
        ByteBuffer b = le(48);
        for (long first : new long[] {41, 44, 48, 49, 0xffff_ffffL, Long.MAX_VALUE, -8}) {
            assertInvalid(() -> decode(b, first));
        }
    }

    @Test
    void rejectsHugeNrAreas() {
        for (long nr : new long[] {3, 0x1000, 0x0fff_ffffL, 0x1000_0000L, 0x7fff_ffffL, 0xffff_ffffL}) {
            ByteBuffer b = le(32 + 16 + 2 * 16);
            header(b, 32, 1, 1, 0);
            b.putInt(40, (int) nr);
            assertInvalid(() -> decode(b, 32));
        }
    }

    @Test
    void rejectsHugeNrAreasWhenNextPointsBeyondTheReply() {
        // A next beyond the reply must not widen the room the areas are checked against.
        for (long next : new long[] {0x100, 0x1_0000L, 0xffff_fff0L, 0xffff_ffffL}) {
            for (long nr : new long[] {3, 0x1000, 0xffff_ffffL}) {
                ByteBuffer b = le(32 + 16 + 2 * 16);
                header(b, 32, 1, 1, next);
                b.putInt(40, (int) nr);
                assertInvalid(() -> decode(b, 32));
            }
        }
    }

    @Test
    void rejectsAreasReachingIntoTheNextCapability() {
        ByteBuffer b = le(128);
        header(b, 32, 1, 1, 64); // room for one area before 64
        b.putInt(40, 2);
        header(b, 64, 2, 1, 0);
        assertInvalid(() -> decode(b, 32));
        b.putInt(40, 1);
        assertDoesNotThrowProtocol(() -> decode(b, 32));
    }

    @Test
    void rejectsTruncatedBodies() {
        // sparse mmap whose nr_areas/reserved do not fit the reply
        for (int size : new int[] {40, 44, 47}) {
            ByteBuffer b = le(size);
            header(b, 32, 1, 1, 0);
            assertInvalid(() -> decode(b, 32));
        }
        // sparse mmap whose body is cut short by the next capability
        ByteBuffer cut = le(80);
        header(cut, 32, 1, 1, 44);
        header(cut, 44, 0x99, 1, 0);
        assertInvalid(() -> decode(cut, 32));
        // type capability cut by the end of the reply or by next
        for (int size : new int[] {40, 44, 47}) {
            ByteBuffer b = le(size);
            header(b, 32, 2, 1, 0);
            assertInvalid(() -> decode(b, 32));
        }
        ByteBuffer typeCut = le(80);
        header(typeCut, 32, 2, 1, 44);
        header(typeCut, 44, 0x99, 1, 0);
        assertInvalid(() -> decode(typeCut, 32));
        // one area's worth of bytes missing
        ByteBuffer area = le(32 + 16 + 15);
        header(area, 32, 1, 1, 0);
        area.putInt(40, 1);
        assertInvalid(() -> decode(area, 32));
    }

    @Test
    void rejectsChainsLongerThanTheLimit() throws Exception {
        int max = RegionCapabilities.MAX_CHAIN_LENGTH;
        ByteBuffer ok = le(32 + max * 8);
        for (int i = 0; i < max; i++) {
            header(ok, 32 + i * 8, 0x99, 1, i + 1 < max ? 32 + (i + 1) * 8 : 0);
        }
        assertEquals(max, decode(ok, 32).size());

        ByteBuffer tooLong = le(32 + (max + 1) * 8);
        for (int i = 0; i <= max; i++) {
            header(tooLong, 32 + i * 8, 0x99, 1, i < max ? 32 + (i + 1) * 8 : 0);
        }
        assertInvalid(() -> decode(tooLong, 32));
    }

    /**
     * A bounded, exhaustive sweep over two-capability chains built from boundary values: whatever the
     * ids, next pointers, area counts and reply sizes, the decoder answers or refuses with a
     * ProtocolException, and it reads nothing outside the reply (a heap segment of exactly the reply's
     * size throws if it did).
     */
    @Test
    void hostileChainSweepEndsOnlyInProtocolException() {
        int[] ids = {0, 1, 2, 0xffff};
        long[] nexts = {0, 8, 32, 36, 40, 44, 48, 56, 63, 64, 72, 80, 96, 0x8000_0000L, 0xffff_fff8L, 0xffff_ffffL};
        long[] areaCounts = {0, 1, 2, 3, 4, 0x0800_0000L, 0x7fff_ffffL, 0xffff_ffffL};
        int[] sizes = {32, 40, 47, 48, 63, 64, 80, 96};
        long[] firsts = {0, 16, 32, 36, 40, 48, 88, 92, 96, 0xffff_ffffL};
        long outcomes = 0;
        for (int size : sizes) {
            for (long first : firsts) {
                for (int id : ids) {
                    for (long next : nexts) {
                        for (long nr : areaCounts) {
                            for (int id2 : ids) {
                                ByteBuffer b = le(size);
                                if (size >= 48) {
                                    header(b, 32, id, 1, next);
                                    b.putInt(40, (int) nr);
                                }
                                if (size >= 64) {
                                    header(b, 56, id2, 1, next == 56 ? 0 : 56 + 8);
                                    b.putInt(48, (int) nr);
                                }
                                MemorySegment info = segment(b);
                                try {
                                    List<RegionCapability> chain = RegionCapabilities.decodeChain(info, first);
                                    assertTrue(chain.size() <= RegionCapabilities.MAX_CHAIN_LENGTH);
                                } catch (ProtocolException e) {
                                    assertEquals(Errno.EINVAL, e.errno());
                                } catch (RuntimeException e) {
                                    fail(String.format("size %d first %d id %d next %d nr %d id2 %d: %s", size, first,
                                            id, next, nr, id2, e), e);
                                }
                                outcomes++;
                            }
                        }
                    }
                }
            }
        }
        assertTrue(outcomes > 0);
    }

    private static void assertDoesNotThrowProtocol(Executable call) {
        try {
            call.execute();
        } catch (Throwable t) {
            fail("unexpected " + t, t);
        }
    }
}

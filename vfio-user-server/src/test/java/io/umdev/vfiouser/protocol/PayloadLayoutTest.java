package io.umdev.vfiouser.protocol;

import static io.umdev.vfiouser.protocol.WireBytes.bytes;
import static io.umdev.vfiouser.protocol.WireBytes.le;
import static io.umdev.vfiouser.protocol.WireBytes.segment;
import static io.umdev.vfiouser.protocol.WireBytes.zeroed;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Every payload type against the byte offsets of the tables in QEMU's docs/interop/vfio-user.rst:
 * encoders produce exactly the hand-written bytes, decoders read hand-written bytes into the right
 * fields, and encode then decode gives back what went in. Values are chosen with distinct bytes and
 * high bits set, so a field at a wrong offset, of a wrong width or read signed shows.
 */
class PayloadLayoutTest {

    // ---- header ---------------------------------------------------------------------------------

    @Test
    void headerFieldsSitAtSpecOffsets() {
        MemorySegment message = zeroed(MessageHeader.SIZE);
        MessageHeader.write(message, 0xbeef, 0xfe09, 0xf1e2d3c4L, 0x21, 0x8765_4321);

        ByteBuffer expected = le(16);
        expected.putShort(0, (short) 0xbeef);
        expected.putShort(2, (short) 0xfe09);
        expected.putInt(4, 0xf1e2d3c4);
        expected.putInt(8, 0x21);
        expected.putInt(12, 0x8765_4321);
        assertArrayEquals(expected.array(), bytes(message));
        assertEquals(16, MessageHeader.SIZE);
        assertEquals(16, MessageHeader.LAYOUT.byteSize());
    }

    @Test
    void headerFieldsDecodeUnsigned() {
        ByteBuffer wire = le(16);
        wire.putShort(0, (short) 0xffff);
        wire.putShort(2, (short) 0x8001);
        wire.putInt(4, 0xffff_fff0);
        wire.putInt(8, 0x31);
        wire.putInt(12, 22);
        MemorySegment message = segment(wire);
        assertEquals(0xffff, MessageHeader.id(message));
        assertEquals(0x8001, MessageHeader.command(message));
        assertEquals(0xffff_fff0L, MessageHeader.size(message));
        assertEquals(0x31, MessageHeader.flags(message));
        assertEquals(22, MessageHeader.error(message));
    }

    @Test
    void headerRoundTripsAndSetSizeTouchesOnlySize() {
        MemorySegment message = zeroed(MessageHeader.SIZE);
        MessageHeader.write(message, 7, Command.REGION_WRITE.code(), 16, MessageHeader.TYPE_COMMAND | MessageHeader.NO_REPLY, 0);
        MessageHeader.setSize(message, 0x1_0000L + 24);
        assertEquals(7, MessageHeader.id(message));
        assertEquals(10, MessageHeader.command(message));
        assertEquals(0x1_0018L, MessageHeader.size(message));
        assertEquals(0x10, MessageHeader.flags(message));
        assertEquals(0, MessageHeader.error(message));
        ByteBuffer expected = le(16);
        expected.putShort(0, (short) 7).putShort(2, (short) 10).putInt(4, 0x1_0018).putInt(8, 0x10);
        assertArrayEquals(expected.array(), bytes(message));
    }

    @Test
    void replyIsRecognisedByTheTypeBitsOnly() {
        MemorySegment message = zeroed(MessageHeader.SIZE);
        int[][] cases = {
            {MessageHeader.TYPE_REPLY, 1},
            {MessageHeader.TYPE_REPLY | MessageHeader.ERROR, 1},
            {MessageHeader.TYPE_REPLY | MessageHeader.NO_REPLY, 1},
            {MessageHeader.TYPE_COMMAND, 0},
            {MessageHeader.ERROR, 0},
            {MessageHeader.NO_REPLY, 0},
            {0x2, 0},
            {0x3, 0},
            {0xf1, 1},
        };
        for (int[] c : cases) {
            MessageHeader.write(message, 1, 1, 16, c[0], 0);
            assertEquals(c[1] == 1, MessageHeader.isReply(message), () -> "flags 0x" + Integer.toHexString(c[0]));
        }
        assertEquals(0x21, MessageHeader.TYPE_REPLY | MessageHeader.ERROR);
        assertEquals(0x3f, MessageHeader.KNOWN_FLAGS);
    }

    @Test
    void commandCodesMatchTheSpecTable() {
        int[] codes = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18};
        Command[] commands = Command.values();
        assertEquals(codes.length, commands.length);
        for (int i = 0; i < codes.length; i++) {
            assertEquals(codes[i], commands[i].code(), commands[i].name());
            assertEquals(commands[i], Command.of(codes[i]));
        }
        assertNull(Command.of(0));
        assertNull(Command.of(14), "14 (DIRTY_PAGES) is retired");
        assertNull(Command.of(19));
        assertNull(Command.of(-1));
        assertNull(Command.of(0xffff));
    }

    // ---- VERSION --------------------------------------------------------------------------------

    @Test
    void versionEncodesMajorMinorThenNulTerminatedJson() {
        VersionPayload version = new VersionPayload(0x0102, 0xfffe, "{\"a\":1}");
        assertEquals(4 + 7 + 1, version.encodedSize());
        MemorySegment out = zeroed(version.encodedSize());
        assertEquals(12, version.encode(out));

        ByteBuffer expected = le(12);
        expected.putShort(0, (short) 0x0102);
        expected.putShort(2, (short) 0xfffe);
        expected.put(4, "{\"a\":1}".getBytes(StandardCharsets.US_ASCII));
        expected.put(11, (byte) 0);
        assertArrayEquals(expected.array(), bytes(out));
    }

    @Test
    void versionDecodesMajorMinorUnsignedAndStripsTheNul() throws Exception {
        ByteBuffer wire = le(4 + 3);
        wire.putShort(0, (short) 0xffff);
        wire.putShort(2, (short) 0x8000);
        wire.put(4, (byte) '{').put(5, (byte) '}').put(6, (byte) 0);
        VersionPayload version = VersionPayload.decode(segment(wire));
        assertEquals(0xffff, version.major());
        assertEquals(0x8000, version.minor());
        assertEquals("{}", version.capabilities());
    }

    @Test
    void versionWithoutJsonHasNullCapabilities() throws Exception {
        VersionPayload version = new VersionPayload(0, 0, null);
        assertEquals(4, version.encodedSize());
        MemorySegment out = zeroed(4);
        assertEquals(4, version.encode(out));
        assertArrayEquals(new byte[4], bytes(out));
        VersionPayload decoded = VersionPayload.decode(out);
        assertNull(decoded.capabilities());
        assertEquals(version, decoded);
    }

    @Test
    void versionWithOnlyANulHasEmptyCapabilities() throws Exception {
        VersionPayload decoded = VersionPayload.decode(WireBytes.of((byte) 0, (byte) 0, (byte) 0, (byte) 0, (byte) 0));
        assertEquals("", decoded.capabilities());
        VersionPayload empty = new VersionPayload(0, 0, "");
        assertEquals(5, empty.encodedSize());
        MemorySegment out = zeroed(5);
        empty.encode(out);
        assertEquals(empty, VersionPayload.decode(out));
    }

    @Test
    void versionJsonRoundTripsAsUtf8() throws Exception {
        String json = "{\"capabilities\":{\"name\":\"gr\u00fc\u00df \u20ac\"}}";
        VersionPayload version = new VersionPayload(0, 0, json);
        int utf8 = json.getBytes(StandardCharsets.UTF_8).length;
        assertTrue(utf8 > json.length());
        assertEquals(4 + utf8 + 1, version.encodedSize());
        MemorySegment out = zeroed(version.encodedSize());
        assertEquals(version.encodedSize(), version.encode(out));
        assertEquals(version, VersionPayload.decode(out));
    }

    @Test
    void versionKeepsBytesBeforeTheFinalNulOnly() throws Exception {
        // Only the last byte is the terminator; an earlier NUL is part of the text the parser then judges.
        byte[] wire = {0, 0, 0, 0, '{', '}', 0, 'x', 0};
        VersionPayload decoded = VersionPayload.decode(WireBytes.of(wire));
        assertEquals("{}\0x", decoded.capabilities());
    }

    // ---- DMA_MAP / DMA_UNMAP --------------------------------------------------------------------

    @Test
    void dmaMapFieldsSitAtSpecOffsets() {
        DmaMapPayload map = new DmaMapPayload(0x3, 0x8877_6655_4433_2211L, 0xfedc_ba98_7654_3000L, 0x0000_1234_5678_9000L);
        MemorySegment out = zeroed(40);
        assertEquals(32, map.encode(out));
        assertEquals(32, DmaMapPayload.LAYOUT.byteSize());

        ByteBuffer expected = le(40);
        expected.putInt(0, 32);
        expected.putInt(4, 0x3);
        expected.putLong(8, 0x8877_6655_4433_2211L);
        expected.putLong(16, 0xfedc_ba98_7654_3000L);
        expected.putLong(24, 0x0000_1234_5678_9000L);
        assertArrayEquals(expected.array(), bytes(out));
    }

    @Test
    void dmaMapDecodesHandWrittenBytes() throws Exception {
        ByteBuffer wire = le(32);
        wire.putInt(0, 32).putInt(4, 0x2).putLong(8, 0x1000L).putLong(16, 0x8000_0000_0000_0000L).putLong(24, 0x20_0000L);
        DmaMapPayload map = DmaMapPayload.decode(segment(wire));
        assertEquals(new DmaMapPayload(0x2, 0x1000L, 0x8000_0000_0000_0000L, 0x20_0000L), map);
    }

    @Test
    void dmaMapRoundTrips() throws Exception {
        DmaMapPayload map = new DmaMapPayload(DmaMapPayload.FLAG_READ | DmaMapPayload.FLAG_WRITE, -4096L, -8192L, Long.MIN_VALUE);
        MemorySegment out = zeroed(32);
        map.encode(out);
        assertEquals(map, DmaMapPayload.decode(out));
    }

    @Test
    void dmaMapAcceptsALargerArgsz() throws Exception {
        ByteBuffer wire = le(32);
        wire.putInt(0, 0xffff_ffff).putInt(4, 1).putLong(16, 0x4000L).putLong(24, 0x1000L);
        assertEquals(new DmaMapPayload(1, 0, 0x4000L, 0x1000L), DmaMapPayload.decode(segment(wire)));
    }

    @Test
    void dmaUnmapFieldsSitAtSpecOffsets() throws Exception {
        DmaUnmapPayload unmap = new DmaUnmapPayload(24, DmaUnmapPayload.FLAG_ALL, 0xa1a2_a3a4_a5a6_a7a8L, 0xb1b2_b3b4_b5b6_b7b8L);
        MemorySegment out = zeroed(24);
        assertEquals(24, unmap.encode(out));
        ByteBuffer expected = le(24);
        expected.putInt(0, 24).putInt(4, 2).putLong(8, 0xa1a2_a3a4_a5a6_a7a8L).putLong(16, 0xb1b2_b3b4_b5b6_b7b8L);
        assertArrayEquals(expected.array(), bytes(out));
        assertEquals(unmap, DmaUnmapPayload.decode(segment(expected)));
        assertEquals(0x1, DmaUnmapPayload.FLAG_GET_DIRTY_BITMAP);
        assertEquals(0x2, DmaUnmapPayload.FLAG_ALL);
    }

    // ---- device, region, IRQ info -----------------------------------------------------------------

    @Test
    void deviceInfoFieldsSitAtSpecOffsets() throws Exception {
        DeviceInfoPayload info = new DeviceInfoPayload(16, DeviceInfoPayload.FLAG_PCI | DeviceInfoPayload.FLAG_RESET,
                0x8000_0009, 0x4000_0005);
        MemorySegment out = zeroed(16);
        assertEquals(16, info.encode(out));
        ByteBuffer expected = le(16);
        expected.putInt(0, 16).putInt(4, 3).putInt(8, 0x8000_0009).putInt(12, 0x4000_0005);
        assertArrayEquals(expected.array(), bytes(out));
        assertEquals(info, DeviceInfoPayload.decode(segment(expected)));
    }

    @Test
    void regionInfoFieldsSitAtSpecOffsets() throws Exception {
        RegionInfoPayload info = new RegionInfoPayload(0x68, 0xf, 7, 0x20, 0xc1c2_c3c4_c5c6_c7c8L, 0xd1d2_d3d4_d5d6_d7d8L);
        MemorySegment out = zeroed(32);
        assertEquals(32, info.encode(out));
        ByteBuffer expected = le(32);
        expected.putInt(0, 0x68).putInt(4, 0xf).putInt(8, 7).putInt(12, 0x20)
                .putLong(16, 0xc1c2_c3c4_c5c6_c7c8L).putLong(24, 0xd1d2_d3d4_d5d6_d7d8L);
        assertArrayEquals(expected.array(), bytes(out));
        assertEquals(info, RegionInfoPayload.decode(segment(expected)));
        assertEquals(0x8, RegionInfoPayload.FLAG_CAPS);
        assertEquals(0x4, RegionInfoPayload.FLAG_MMAP);
    }

    @Test
    void regionInfoDecodesFromTheStartOfALongerReply() throws Exception {
        ByteBuffer wire = le(64);
        wire.putInt(0, 64).putInt(4, RegionInfoPayload.FLAG_CAPS).putInt(8, 2).putInt(12, 32).putLong(16, 0x1000).putLong(24, 0);
        wire.putLong(32, -1L);
        assertEquals(new RegionInfoPayload(64, 8, 2, 32, 0x1000, 0), RegionInfoPayload.decode(segment(wire)));
    }

    @Test
    void irqInfoFieldsSitAtSpecOffsets() throws Exception {
        IrqInfoPayload info = new IrqInfoPayload(16, IrqInfoPayload.FLAG_EVENTFD | IrqInfoPayload.FLAG_NORESIZE, 2, 0x800);
        MemorySegment out = zeroed(16);
        assertEquals(16, info.encode(out));
        ByteBuffer expected = le(16);
        expected.putInt(0, 16).putInt(4, 0x9).putInt(8, 2).putInt(12, 0x800);
        assertArrayEquals(expected.array(), bytes(out));
        assertEquals(info, IrqInfoPayload.decode(segment(expected)));
        assertEquals(0x1, IrqInfoPayload.FLAG_EVENTFD);
        assertEquals(0x2, IrqInfoPayload.FLAG_MASKABLE);
        assertEquals(0x4, IrqInfoPayload.FLAG_AUTOMASKED);
        assertEquals(0x8, IrqInfoPayload.FLAG_NORESIZE);
    }

    // ---- REGION_IO_FDS ----------------------------------------------------------------------------

    @Test
    void regionIoFdsHeadAndSubregionsSitAtSpecOffsets() throws Exception {
        RegionIoFdsPayload head = new RegionIoFdsPayload(16 + 2 * 40, 0, 3, 2);
        RegionIoFdsPayload.Subregion first = new RegionIoFdsPayload.Subregion(0x1000, 4, 0,
                RegionIoFdsPayload.TYPE_IOEVENTFD, RegionIoFdsPayload.IOEVENTFD_FLAG_DATAMATCH, 0xe1e2_e3e4_e5e6_e7e8L);
        RegionIoFdsPayload.Subregion second = new RegionIoFdsPayload.Subregion(0xf000_0000_0000_0010L, 8, 1,
                RegionIoFdsPayload.TYPE_IOREGIONFD, 0x8000_0000, -2L);
        MemorySegment out = zeroed(96);
        out.fill((byte) 0x5a); // the encoder must write the padding, not leave what was there
        assertEquals(16, head.encode(out));
        RegionIoFdsPayload.encodeSubregion(out, 0, first);
        RegionIoFdsPayload.encodeSubregion(out, 1, second);

        ByteBuffer expected = le(96);
        expected.putInt(0, 96).putInt(4, 0).putInt(8, 3).putInt(12, 2);
        expected.putLong(16, 0x1000).putLong(24, 4).putInt(32, 0).putInt(36, 0).putInt(40, 1).putInt(44, 0)
                .putLong(48, 0xe1e2_e3e4_e5e6_e7e8L);
        expected.putLong(56, 0xf000_0000_0000_0010L).putLong(64, 8).putInt(72, 1).putInt(76, 1).putInt(80, 0x8000_0000)
                .putInt(84, 0).putLong(88, -2L);
        assertArrayEquals(expected.array(), bytes(out));
        assertEquals(40, RegionIoFdsPayload.SUBREGION.byteSize());

        MemorySegment wire = segment(expected);
        assertEquals(head, RegionIoFdsPayload.decode(wire));
        assertEquals(first, RegionIoFdsPayload.decodeSubregion(wire, 0, 40));
        assertEquals(second, RegionIoFdsPayload.decodeSubregion(wire, 1, 40));
    }

    @Test
    void regionIoFdsSubregionsHonourALargerStride() throws Exception {
        // A future server may send longer entries: entry i is at 16 + i * stride.
        ByteBuffer wire = le(16 + 2 * 48);
        wire.putInt(0, 16 + 2 * 48).putInt(12, 2);
        wire.putLong(16 + 48, 0x2000).putLong(16 + 48 + 8, 2).putInt(16 + 48 + 16, 5).putInt(16 + 48 + 20, 0)
                .putInt(16 + 48 + 24, 1).putLong(16 + 48 + 32, 0x77);
        RegionIoFdsPayload.Subregion s = RegionIoFdsPayload.decodeSubregion(segment(wire), 1, 48);
        assertEquals(new RegionIoFdsPayload.Subregion(0x2000, 2, 5, 0, 1, 0x77), s);
    }

    // ---- SET_IRQS ---------------------------------------------------------------------------------

    @Test
    void irqSetFieldsSitAtSpecOffsetsWithBooleansAt20() throws Exception {
        MemorySegment bools = WireBytes.of((byte) 1, (byte) 0, (byte) 1);
        IrqSetPayload set = new IrqSetPayload(23, IrqSetPayload.DATA_BOOL | IrqSetPayload.ACTION_TRIGGER, 2, 0x8000_0001,
                3, bools);
        MemorySegment out = zeroed(23);
        assertEquals(23, set.encode(out));
        ByteBuffer expected = le(23);
        expected.putInt(0, 23).putInt(4, 0x22).putInt(8, 2).putInt(12, 0x8000_0001).putInt(16, 3);
        expected.put(20, (byte) 1).put(21, (byte) 0).put(22, (byte) 1);
        assertArrayEquals(expected.array(), bytes(out));

        IrqSetPayload decoded = IrqSetPayload.decode(segment(expected));
        assertEquals(23, decoded.argsz());
        assertEquals(0x22, decoded.flags());
        assertEquals(2, decoded.index());
        assertEquals(0x8000_0001, decoded.start());
        assertEquals(3, decoded.count());
        assertArrayEquals(new byte[] {1, 0, 1}, bytes(decoded.data()));
        assertEquals(IrqSetPayload.DATA_BOOL, decoded.dataKind());
        assertEquals(IrqSetPayload.ACTION_TRIGGER, decoded.action());
    }

    @Test
    void irqSetWithoutDataDecodesAnEmptyDataView() throws Exception {
        ByteBuffer wire = le(20);
        wire.putInt(0, 20).putInt(4, IrqSetPayload.DATA_EVENTFD | IrqSetPayload.ACTION_MASK).putInt(8, 0).putInt(12, 0)
                .putInt(16, 1);
        IrqSetPayload decoded = IrqSetPayload.decode(segment(wire));
        assertEquals(0, decoded.data().byteSize());
        assertEquals(IrqSetPayload.DATA_EVENTFD, decoded.dataKind());
        assertEquals(IrqSetPayload.ACTION_MASK, decoded.action());
        assertEquals(0x7, IrqSetPayload.DATA_MASK);
        assertEquals(0x38, IrqSetPayload.ACTION_MASK_BITS);
    }

    // ---- REGION_READ / REGION_WRITE ---------------------------------------------------------------

    @Test
    void regionAccessHeadSitsAtSpecOffsetsAndDataAt16() throws Exception {
        MemorySegment out = zeroed(16 + 4);
        assertEquals(16, RegionAccessPayload.encodeHead(out, 0x0102_0304_0506_0708L, 0x8000_0007, 4));
        out.asSlice(RegionAccessPayload.DATA_OFFSET).copyFrom(WireBytes.of((byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef));
        ByteBuffer expected = le(20);
        expected.putLong(0, 0x0102_0304_0506_0708L).putInt(8, 0x8000_0007).putInt(12, 4);
        expected.put(16, (byte) 0xde).put(17, (byte) 0xad).put(18, (byte) 0xbe).put(19, (byte) 0xef);
        assertArrayEquals(expected.array(), bytes(out));
        assertEquals(16, RegionAccessPayload.DATA_OFFSET);

        RegionAccessPayload decoded = RegionAccessPayload.decode(segment(expected));
        assertEquals(0x0102_0304_0506_0708L, decoded.offset());
        assertEquals(0x8000_0007, decoded.region());
        assertEquals(4, decoded.count());
        assertArrayEquals(new byte[] {(byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef}, bytes(decoded.data()));
    }

    @Test
    void regionAccessCountIsUnsigned() throws Exception {
        ByteBuffer wire = le(16);
        wire.putInt(12, 0xffff_fff8);
        RegionAccessPayload decoded = RegionAccessPayload.decode(segment(wire));
        assertEquals(0xffff_fff8L, decoded.byteCount());
        assertEquals(0, decoded.data().byteSize());
    }

    // ---- DMA_READ / DMA_WRITE ---------------------------------------------------------------------

    @Test
    void dmaAccessHeadSitsAtSpecOffsetsAndDataAt16() throws Exception {
        MemorySegment out = zeroed(16 + 3);
        assertEquals(16, DmaAccessPayload.encodeHead(out, 0xfedc_ba98_7654_3210L, 0x8000_0000_0000_0003L));
        out.asSlice(DmaAccessPayload.DATA_OFFSET).copyFrom(WireBytes.of((byte) 1, (byte) 2, (byte) 3));
        ByteBuffer expected = le(19);
        expected.putLong(0, 0xfedc_ba98_7654_3210L).putLong(8, 0x8000_0000_0000_0003L);
        expected.put(16, (byte) 1).put(17, (byte) 2).put(18, (byte) 3);
        assertArrayEquals(expected.array(), bytes(out));

        DmaAccessPayload decoded = DmaAccessPayload.decode(segment(expected));
        assertEquals(0xfedc_ba98_7654_3210L, decoded.address());
        assertEquals(0x8000_0000_0000_0003L, decoded.count());
        assertArrayEquals(new byte[] {1, 2, 3}, bytes(decoded.data()));
        assertEquals(16, DmaAccessPayload.DATA_OFFSET);
        assertEquals(12, DmaAccessPayload.MIN_WRITE_REPLY);
    }

    // ---- REGION_WRITE_MULTI -----------------------------------------------------------------------

    @Test
    void writeMultiEntriesAre24BytesAfterAn8ByteCount() throws Exception {
        MemorySegment out = zeroed(8 + 2 * 24);
        out.fill((byte) 0x5a); // unused data bytes must be zeroed by the encoder
        assertEquals(8, WriteMultiPayload.encodeCount(out, 2));
        WriteMultiPayload.encodeWrite(out, 0, 0x1122_3344_5566_7788L, 0, WireBytes.of((byte) 0xaa, (byte) 0xbb));
        WriteMultiPayload.encodeWrite(out, 1, 0x10L, 0x8000_0002,
                WireBytes.of((byte) 1, (byte) 2, (byte) 3, (byte) 4, (byte) 5, (byte) 6, (byte) 7, (byte) 8));

        ByteBuffer expected = le(56);
        expected.putLong(0, 2);
        expected.putLong(8, 0x1122_3344_5566_7788L).putInt(16, 0).putInt(20, 2).put(24, (byte) 0xaa).put(25, (byte) 0xbb);
        expected.putLong(32, 0x10L).putInt(40, 0x8000_0002).putInt(44, 8);
        for (int i = 0; i < 8; i++) {
            expected.put(48 + i, (byte) (i + 1));
        }
        assertArrayEquals(expected.array(), bytes(out));
        assertEquals(24, WriteMultiPayload.WRITE.byteSize());

        MemorySegment wire = segment(expected);
        assertEquals(2, WriteMultiPayload.count(wire));
        WriteMultiPayload.Write first = WriteMultiPayload.write(wire, 0);
        assertEquals(0x1122_3344_5566_7788L, first.offset());
        assertEquals(0, first.region());
        assertEquals(2, first.count());
        assertArrayEquals(new byte[] {(byte) 0xaa, (byte) 0xbb}, bytes(first.data()));
        WriteMultiPayload.Write second = WriteMultiPayload.write(wire, 1);
        assertEquals(0x10L, second.offset());
        assertEquals(0x8000_0002, second.region());
        assertEquals(8, second.count());
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, bytes(second.data()));
    }

    @Test
    void writeMultiWithNoWritesIsJustTheCount() throws Exception {
        MemorySegment out = zeroed(8);
        WriteMultiPayload.encodeCount(out, 0);
        assertArrayEquals(new byte[8], bytes(out));
        assertEquals(0, WriteMultiPayload.count(out));
    }

    // ---- DEVICE_FEATURE / MIG_DATA ----------------------------------------------------------------

    @Test
    void deviceFeatureFieldsSitAtSpecOffsetsWithDataAt8() throws Exception {
        int flags = DeviceFeaturePayload.GET | DeviceFeaturePayload.PROBE | DeviceFeaturePayload.FEATURE_MIG_DEVICE_STATE;
        DeviceFeaturePayload feature = new DeviceFeaturePayload(16, flags, WireBytes.of((byte) 2, (byte) 0, (byte) 0,
                (byte) 0, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff));
        MemorySegment out = zeroed(16);
        assertEquals(16, feature.encode(out));
        ByteBuffer expected = le(16);
        expected.putInt(0, 16).putInt(4, (1 << 16) | (1 << 18) | 2).putInt(8, 2).putInt(12, -1);
        assertArrayEquals(expected.array(), bytes(out));

        DeviceFeaturePayload decoded = DeviceFeaturePayload.decode(segment(expected));
        assertEquals(16, decoded.argsz());
        assertEquals(flags, decoded.flags());
        assertEquals(DeviceFeaturePayload.FEATURE_MIG_DEVICE_STATE, decoded.feature());
        assertArrayEquals(bytes(feature.data()), bytes(decoded.data()));
        assertEquals(1 << 17, DeviceFeaturePayload.SET);
    }

    @Test
    void deviceFeatureIndexIsTheLow16Bits() throws Exception {
        ByteBuffer wire = le(8);
        wire.putInt(0, 8).putInt(4, 0xfff1_0008);
        DeviceFeaturePayload decoded = DeviceFeaturePayload.decode(segment(wire));
        assertEquals(DeviceFeaturePayload.FEATURE_DMA_LOGGING_REPORT, decoded.feature());
        assertEquals(0, decoded.data().byteSize());
    }

    @Test
    void migDataFieldsSitAtSpecOffsetsWithDataAt8() throws Exception {
        MemorySegment out = zeroed(8 + 2);
        assertEquals(8, MigDataPayload.encodeHead(out, 10, 2));
        out.asSlice(MigDataPayload.DATA_OFFSET).copyFrom(WireBytes.of((byte) 0x11, (byte) 0x22));
        ByteBuffer expected = le(10);
        expected.putInt(0, 10).putInt(4, 2).put(8, (byte) 0x11).put(9, (byte) 0x22);
        assertArrayEquals(expected.array(), bytes(out));

        MigDataPayload decoded = MigDataPayload.decode(segment(expected));
        assertEquals(10, decoded.argsz());
        assertEquals(2, decoded.size());
        assertEquals(2, decoded.byteCount());
        assertArrayEquals(new byte[] {0x11, 0x22}, bytes(decoded.data()));
    }

    @Test
    void migDataSizeIsUnsigned() throws Exception {
        ByteBuffer wire = le(8);
        wire.putInt(0, 8).putInt(4, 0xffff_ffff);
        assertEquals(0xffff_ffffL, MigDataPayload.decode(segment(wire)).byteCount());
    }

    // ---- views ------------------------------------------------------------------------------------

    @Test
    void decodedDataIsAViewOfTheMessageNotACopy() throws Exception {
        MemorySegment message = zeroed(20);
        RegionAccessPayload.encodeHead(message, 0, 0, 4);
        RegionAccessPayload decoded = RegionAccessPayload.decode(message);
        message.set(JAVA_BYTE, 17, (byte) 0x42);
        assertEquals(0x42, decoded.data().get(JAVA_BYTE, 1));
        assertFalse(decoded.data().isReadOnly());
    }
}

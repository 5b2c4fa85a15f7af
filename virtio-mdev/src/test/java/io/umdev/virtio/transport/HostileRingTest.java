package io.umdev.virtio.transport;

import static io.umdev.virtio.spec.DeviceStatus.ACKNOWLEDGE;
import static io.umdev.virtio.spec.DeviceStatus.DRIVER;
import static io.umdev.virtio.spec.DeviceStatus.DRIVER_OK;
import static io.umdev.virtio.spec.DeviceStatus.FEATURES_OK;
import static io.umdev.virtio.spec.DeviceStatus.NEEDS_RESET;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.virtio.ring.Virtqueue;
import io.umdev.virtio.spec.PackedRing;
import io.umdev.virtio.spec.SplitRing;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.testing.Await;
import io.umdev.virtio.testing.EchoDevice;
import io.umdev.virtio.testing.GuestMemory;
import io.umdev.virtio.testing.PackedDriver;
import io.umdev.virtio.testing.SplitDriver;
import io.umdev.vfiouser.dma.DmaTable;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A driver breaking the ring rules, one way per case: each must leave the device NEEDS_RESET with a
 * reason naming the problem, publish nothing, and touch no memory outside the buffers it was given
 * (guard pages around every mapping keep their canaries; read-only and write-only mappings keep
 * their contents).
 */
class HostileRingTest {
    private static final long IOVA = 0x10000;
    private static final long SIZE = 1 << 20;
    private static final long RINGS = IOVA;
    private static final long BUF = IOVA + 0x40000;
    private static final long TABLE = IOVA + 0x80000;
    private static final long RO = 0x2000_0000L;
    private static final long WO = 0x3000_0000L;
    private static final long BY_MESSAGE = 0x4000_0000L;
    private static final long GAP = 0x5000_0000L;
    private static final int QSIZE = 8;
    private static final long SPLIT = VirtioFeature.bits(VirtioFeature.VERSION_1, VirtioFeature.RING_INDIRECT_DESC);
    private static final long PACKED = SPLIT | VirtioFeature.bit(VirtioFeature.RING_PACKED);

    private static final int NEXT = SplitRing.DESC_F_NEXT;
    private static final int WRITE = SplitRing.DESC_F_WRITE;
    private static final int INDIRECT = SplitRing.DESC_F_INDIRECT;
    private static final int DESC = SplitRing.DESC_SIZE;

    private DmaTable table;
    private GuestMemory memory;
    private GuestMemory readOnly;
    private GuestMemory writeOnly;
    private EchoDevice device;

    /** What a case may touch. */
    record Ctx(GuestMemory memory, EchoDevice device, SplitDriver split, PackedDriver packed) {
    }

    @BeforeEach
    void setUp() throws Exception {
        table = new DmaTable(16);
        memory = GuestMemory.map(table, IOVA, SIZE);
        readOnly = GuestMemory.map(table, RO, 0x10000, true, false);
        writeOnly = GuestMemory.map(table, WO, 0x10000, false, true);
        readOnly.fill((byte) 0x11);
        writeOnly.fill((byte) 0x22);
        table.map(BY_MESSAGE, 0x10000, true, true, null, 0);
        device = new EchoDevice(table, 64);
    }

    @AfterEach
    void tearDown() {
        device.close();
        assertTrue(memory.guardsIntact(), "guard pages of the main mapping");
        assertTrue(readOnly.guardsIntact() && writeOnly.guardsIntact(), "guard pages of the other mappings");
        assertTrue(readOnly.unchanged(RO, 0x10000, (byte) 0x11), "read-only mapping untouched");
        assertTrue(writeOnly.unchanged(WO, 0x10000, (byte) 0x22), "write-only mapping untouched");
        memory.close();
        readOnly.close();
        writeOnly.close();
        table.close();
    }

    private void negotiate(long features) {
        device.setStatus(ACKNOWLEDGE | DRIVER);
        device.setDriverFeatures(features);
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK);
        assertEquals(ACKNOWLEDGE | DRIVER | FEATURES_OK, device.status());
    }

    private void expectNeedsReset(String fragment) {
        Await.until("NEEDS_RESET", () -> (device.status() & NEEDS_RESET) != 0);
        String reason = device.needsResetReason();
        assertNotNull(reason);
        assertTrue(reason.contains(fragment), () -> "reason '" + reason + "' should mention '" + fragment + "'");
        assertFalse(device.isRunning());
        assertEquals(1L, device.statistics().get(SoftwareVirtioDevice.STAT_NEEDS_RESET), "counted once");
        assertEquals((long) device.status(), device.statistics().get(SoftwareVirtioDevice.STAT_STATUS));
    }

    // ---- Split rings: descriptors and indexes ----

    static Stream<Arguments> splitCases() {
        return Stream.of(
                Arguments.of("descriptor loop", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, BUF, 8, NEXT, 1);
                    c.split.writeDesc(1, BUF, 8, NEXT, 0);
                    c.split.offer(0);
                }, "loops"),
                Arguments.of("chain of more buffers than an indirect table may hold", (Consumer<Ctx>) c -> {
                    // Direct descriptors, then a table that alone is allowed: together one buffer too many.
                    int direct = 5;
                    int entries = Virtqueue.MAX_INDIRECT_ENTRIES - direct + 1;
                    for (int i = 0; i < direct; i++) {
                        c.split.writeDesc(i, BUF, 8, NEXT, i + 1);
                    }
                    c.split.writeDesc(direct, TABLE, entries * DESC, INDIRECT, 0);
                    for (int i = 0; i < entries; i++) {
                        SplitDriver.writeIndirect(c.memory, TABLE, i, BUF, 8, i < entries - 1 ? NEXT : 0, i + 1);
                    }
                    c.split.offer(0);
                }, "has more than 1024 buffers"),
                Arguments.of("next beyond the queue size", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, BUF, 8, NEXT, QSIZE + 1);
                    c.split.offer(0);
                }, "beyond the queue size"),
                Arguments.of("head beyond the queue size", (Consumer<Ctx>) c -> c.split.offer(QSIZE + 4),
                        "names descriptor 12"),
                Arguments.of("available index more than a queue ahead", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, BUF, 8, 0, 0);
                    c.split.setAvailIdx(QSIZE + 1);
                }, "is more than the queue size 8 ahead"),
                Arguments.of("buffer past the end of the mapping", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, c.memory.end(), 16, WRITE, 0);
                    c.split.offer(0);
                }, "not usable"),
                Arguments.of("buffer straddling the end of the mapping", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, c.memory.end() - 8, 16, WRITE, 0);
                    c.split.offer(0);
                }, "not usable"),
                Arguments.of("buffer in unmapped space", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, GAP, 16, 0, 0);
                    c.split.offer(0);
                }, "not usable"),
                Arguments.of("buffer whose length wraps the address space", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, -16L, 0xFFFF, 0, 0);
                    c.split.offer(0);
                }, "not usable"),
                Arguments.of("device-writable buffer in read-only memory", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, RO, 64, WRITE, 0);
                    c.split.offer(0);
                }, "not permitted"),
                Arguments.of("device-readable buffer in write-only memory", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, WO, 64, NEXT, 1);
                    c.split.writeDesc(1, BUF, 64, WRITE, 0);
                    c.split.offer(0);
                }, "not permitted"),
                Arguments.of("buffer in memory reachable only by messages", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, BY_MESSAGE, 64, 0, 0);
                    c.split.offer(0);
                }, "only by messages"),
                Arguments.of("readable buffer after a writable one", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, BUF, 8, WRITE | NEXT, 1);
                    c.split.writeDesc(1, BUF + 64, 8, 0, 0);
                    c.split.offer(0);
                }, "device-readable buffer after a device-writable one"),
                Arguments.of("nested indirect table", (Consumer<Ctx>) c -> {
                    SplitDriver.writeIndirect(c.memory, TABLE, 0, TABLE + 0x100, DESC, INDIRECT, 0);
                    c.split.writeDesc(0, TABLE, DESC, INDIRECT, 0);
                    c.split.offer(0);
                }, "nests an indirect table"),
                Arguments.of("indirect descriptor with NEXT", (Consumer<Ctx>) c -> {
                    SplitDriver.writeIndirect(c.memory, TABLE, 0, BUF, 8, 0, 0);
                    c.split.writeDesc(0, TABLE, DESC, INDIRECT | NEXT, 1);
                    c.split.writeDesc(1, BUF, 8, 0, 0);
                    c.split.offer(0);
                }, "indirect descriptor with NEXT"),
                Arguments.of("indirect table length not a multiple of 16", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, TABLE, DESC + 8, INDIRECT, 0);
                    c.split.offer(0);
                }, "not a non-zero multiple of 16"),
                Arguments.of("empty indirect table", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, TABLE, 0, INDIRECT, 0);
                    c.split.offer(0);
                }, "not a non-zero multiple of 16"),
                Arguments.of("indirect table larger than the queue", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, TABLE, (Virtqueue.MAX_INDIRECT_ENTRIES + 1) * DESC, INDIRECT, 0);
                    c.split.offer(0);
                }, "larger than the queue size 8 allows (1024)"),
                Arguments.of("indirect table outside the mapping", (Consumer<Ctx>) c -> {
                    c.split.writeDesc(0, c.memory.end() - DESC, 2 * DESC, INDIRECT, 0);
                    c.split.offer(0);
                }, "indirect table"),
                Arguments.of("indirect table loop", (Consumer<Ctx>) c -> {
                    SplitDriver.writeIndirect(c.memory, TABLE, 0, BUF, 8, NEXT, 1);
                    SplitDriver.writeIndirect(c.memory, TABLE, 1, BUF, 8, NEXT, 0);
                    c.split.writeDesc(0, TABLE, 2 * DESC, INDIRECT, 0);
                    c.split.offer(0);
                }, "loops"),
                Arguments.of("indirect next beyond the table", (Consumer<Ctx>) c -> {
                    SplitDriver.writeIndirect(c.memory, TABLE, 0, BUF, 8, NEXT, 2);
                    SplitDriver.writeIndirect(c.memory, TABLE, 1, BUF, 8, 0, 0);
                    c.split.writeDesc(0, TABLE, 2 * DESC, INDIRECT, 0);
                    c.split.offer(0);
                }, "links to entry 2 of a 2-entry table"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("splitCases")
    void splitRingAbuseMarksTheDeviceNeedsReset(String name, Consumer<Ctx> abuse, String fragment) {
        negotiate(SPLIT);
        SplitDriver d = new SplitDriver(memory, RINGS, QSIZE);
        device.setQueueSize(0, QSIZE);
        device.setQueueAddress(0, d.desc, d.avail, d.used);
        device.setQueueReady(0, true);
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
        memory.at(BUF, 256).fill((byte) 0x33);
        abuse.accept(new Ctx(memory, device, d, null));
        device.kick(0);
        expectNeedsReset(fragment);
        assertEquals(0, d.usedIdx(), "nothing was published");
        assertTrue(memory.unchanged(BUF, 256, (byte) 0x33), "no buffer was written");
        assertEquals(1, device.queueStatistics(0).errors());
        device.setStatus(0);
        assertEquals(0L, device.statistics().get(SoftwareVirtioDevice.STAT_STATUS), "a reset clears the status");
        assertEquals(1L, device.statistics().get(SoftwareVirtioDevice.STAT_NEEDS_RESET), "the count outlives the reset");
    }

    @ParameterizedTest(name = "indirect without the feature")
    @MethodSource("noIndirectCase")
    void indirectWithoutTheFeatureMarksTheDeviceNeedsReset(String name) {
        negotiate(VirtioFeature.bit(VirtioFeature.VERSION_1));
        SplitDriver d = new SplitDriver(memory, RINGS, QSIZE);
        device.setQueueSize(0, QSIZE);
        device.setQueueAddress(0, d.desc, d.avail, d.used);
        device.setQueueReady(0, true);
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
        SplitDriver.writeIndirect(memory, TABLE, 0, BUF, 8, 0, 0);
        d.writeDesc(0, TABLE, DESC, INDIRECT, 0);
        d.offer(0);
        device.kick(0);
        expectNeedsReset("INDIRECT_DESC was not negotiated");
        assertEquals(0, d.usedIdx());
    }

    static Stream<Arguments> noIndirectCase() {
        return Stream.of(Arguments.of("indirect"));
    }

    // ---- Split rings: the ring areas and the size ----

    static Stream<Arguments> splitAreaCases() {
        return Stream.of(
                Arguments.of("descriptor table past the mapping", 0L, 0L, 0L, SIZE - 64, QSIZE, "descriptor table"),
                Arguments.of("available ring in unmapped space", 0L, GAP, 0L, 0L, QSIZE, "available ring"),
                Arguments.of("used ring in read-only memory", 0L, 0L, RO, 0L, QSIZE, "used ring is not usable"),
                Arguments.of("misaligned used ring", 0L, 0L, 2L, 0L, QSIZE, "not aligned to 4"),
                Arguments.of("misaligned descriptor table", 8L, 0L, 0L, 0L, QSIZE, "not aligned to 16"),
                Arguments.of("rings in memory reachable only by messages", 0L, BY_MESSAGE, 0L, 0L, QSIZE,
                        "only by messages"),
                Arguments.of("split queue size not a power of two", 0L, 0L, 0L, 0L, 12, "queue size 12"));
    }

    /**
     * @param descDelta added to the descriptor table address
     * @param availAbs if non-zero, the available ring's address
     * @param usedOverride if a mapping base, the used ring's address; small values are added to it
     * @param descAbs if non-zero, the descriptor table's offset from the start of the mapping
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("splitAreaCases")
    void badSplitRingAreasMarkTheDeviceNeedsResetAtStart(String name, long descDelta, long availAbs, long usedOverride,
            long descAbs, int size, String fragment) {
        negotiate(SPLIT);
        SplitDriver d = new SplitDriver(memory, RINGS, QSIZE);
        long desc = descAbs != 0 ? IOVA + descAbs : d.desc + descDelta;
        long avail = availAbs != 0 ? availAbs : d.avail;
        long used = usedOverride >= RO ? usedOverride : d.used + usedOverride;
        device.setQueueSize(0, size);
        device.setQueueAddress(0, desc, avail, used);
        device.setQueueReady(0, true);
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
        expectNeedsReset(fragment);
        assertEquals(0, d.usedIdx());
    }

    // ---- Packed rings ----

    static Stream<Arguments> packedCases() {
        return Stream.of(
                Arguments.of("buffer id beyond the queue size", (Consumer<Ctx>) c -> c.packed.add(QSIZE, 0,
                        new long[] {BUF, 8, 1}), "buffer id 8"),
                Arguments.of("chain longer than the queue", (Consumer<Ctx>) c -> {
                    for (int i = QSIZE - 1; i >= 0; i--) {
                        c.packed.writeRaw(i, BUF, 8, 0, PackedRing.DESC_F_NEXT | PackedRing.DESC_F_AVAIL);
                    }
                }, "longer than the queue size"),
                Arguments.of("buffer past the end of the mapping", (Consumer<Ctx>) c -> c.packed.add(0, 0,
                        new long[] {c.memory.end(), 16, 1}), "not usable"),
                Arguments.of("device-writable buffer in read-only memory", (Consumer<Ctx>) c -> c.packed.add(0, 0,
                        new long[] {RO, 16, 1}), "not permitted"),
                Arguments.of("readable buffer after a writable one", (Consumer<Ctx>) c -> c.packed.add(0, 0,
                        new long[] {BUF, 8, 1}, new long[] {BUF + 64, 8, 0}),
                        "device-readable buffer after a device-writable one"),
                Arguments.of("nested indirect table", (Consumer<Ctx>) c -> {
                    PackedDriver.writeIndirect(c.memory, TABLE, 0, TABLE + 0x100, DESC, PackedRing.DESC_F_INDIRECT);
                    c.packed.add(0, PackedRing.DESC_F_INDIRECT, new long[] {TABLE, DESC, 0});
                }, "nests another indirect table"),
                Arguments.of("indirect descriptor with NEXT", (Consumer<Ctx>) c -> {
                    PackedDriver.writeIndirect(c.memory, TABLE, 0, BUF, 8, 0);
                    c.packed.add(0, PackedRing.DESC_F_INDIRECT, new long[] {TABLE, DESC, 0}, new long[] {BUF, 8, 0});
                }, "has NEXT set"),
                Arguments.of("indirect table length not a multiple of 16", (Consumer<Ctx>) c -> c.packed.add(0,
                        PackedRing.DESC_F_INDIRECT, new long[] {TABLE, 20, 0}), "not a non-zero multiple of 16"),
                Arguments.of("indirect table larger than the queue", (Consumer<Ctx>) c -> c.packed.add(0,
                        PackedRing.DESC_F_INDIRECT, new long[] {TABLE, (Virtqueue.MAX_INDIRECT_ENTRIES + 1) * DESC, 0}),
                        "larger than the queue size 8 allows (1024)"));
    }

    private PackedDriver startPacked(long features, long descOverride, long driverOverride, long deviceOverride) {
        negotiate(features);
        PackedDriver d = new PackedDriver(memory, RINGS, QSIZE);
        device.setQueueSize(0, QSIZE);
        device.setQueueAddress(0, descOverride != 0 ? descOverride : d.desc,
                driverOverride != 0 ? driverOverride : d.driverEvent, deviceOverride != 0 ? deviceOverride : d.deviceEvent);
        device.setQueueReady(0, true);
        return d;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("packedCases")
    void packedRingAbuseMarksTheDeviceNeedsReset(String name, Consumer<Ctx> abuse, String fragment) {
        PackedDriver d = startPacked(PACKED, 0, 0, 0);
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
        memory.at(BUF, 256).fill((byte) 0x33);
        abuse.accept(new Ctx(memory, device, null, d));
        device.kick(0);
        expectNeedsReset(fragment);
        for (int i = 0; i < QSIZE; i++) {
            assertFalse(d.isUsed(i, true), "nothing was marked used");
        }
        assertTrue(memory.unchanged(BUF, 256, (byte) 0x33), "no buffer was written");
    }

    static Stream<Arguments> packedAreaCases() {
        return Stream.of(
                Arguments.of("descriptor ring in read-only memory", RO, 0L, 0L, "descriptor ring is not usable"),
                Arguments.of("device event area in read-only memory", 0L, 0L, RO, "device event suppression area"),
                Arguments.of("misaligned driver event area", 0L, RINGS + 0x2002, 0L, "not aligned to 4"),
                Arguments.of("driver event area in unmapped space", 0L, GAP, 0L, "driver event suppression area"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("packedAreaCases")
    void badPackedRingAreasMarkTheDeviceNeedsResetAtStart(String name, long desc, long driver, long deviceArea,
            String fragment) {
        startPacked(PACKED, desc, driver, deviceArea);
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
        expectNeedsReset(fragment);
    }

    @ParameterizedTest(name = "restored packed position beyond the queue")
    @MethodSource("noIndirectCase")
    void restoredPackedPositionBeyondTheQueueMarksTheDeviceNeedsReset(String name) {
        startPacked(PACKED, 0, 0, 0);
        device.setQueueState(0, new PackedQueueState(QSIZE + 1, true, 0, true));
        device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
        expectNeedsReset("beyond the queue size");
    }

    @ParameterizedTest(name = "a broken queue leaves the other instance alone")
    @MethodSource("noIndirectCase")
    void aBrokenDeviceDoesNotAffectAnotherInstance(String name) throws Exception {
        try (DmaTable otherTable = new DmaTable(4); GuestMemory otherMemory = GuestMemory.map(otherTable, IOVA, SIZE)) {
            EchoDevice other = new EchoDevice(otherTable, 64);
            try {
                SplitDriver od = other.startWithSplitQueue(SPLIT, otherMemory, RINGS, QSIZE);

                negotiate(SPLIT);
                SplitDriver d = new SplitDriver(memory, RINGS, QSIZE);
                device.setQueueSize(0, QSIZE);
                device.setQueueAddress(0, d.desc, d.avail, d.used);
                device.setQueueReady(0, true);
                device.setStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
                d.writeDesc(0, BUF, 8, NEXT, 0);
                d.offer(0);
                device.kick(0);
                expectNeedsReset("loops");

                od.offer(od.chain(new long[] {BUF, 8, 0}, new long[] {BUF + 64, 8, 1}));
                other.kick(0);
                Await.until("the other instance still works", () -> od.usedIdx() == 1);
                assertEquals(0, other.status() & NEEDS_RESET);
                assertTrue(otherMemory.guardsIntact());
            } finally {
                other.close();
                otherTable.unmapAll();
            }
        }
    }
}

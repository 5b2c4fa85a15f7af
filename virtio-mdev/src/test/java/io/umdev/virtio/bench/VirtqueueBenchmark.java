package io.umdev.virtio.bench;

import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.virtio.ring.DescriptorChain;
import io.umdev.virtio.ring.QueueCounters;
import io.umdev.virtio.ring.Virtqueue;
import io.umdev.virtio.spec.PackedRing;
import io.umdev.virtio.spec.SplitRing;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.vfiouser.dma.DmaTable;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Descriptors per second through the virtqueue engine on one thread: each invocation the driver side
 * posts {@value #BATCH} single-descriptor 64-byte buffers, the engine pops each, copies its 64 bytes
 * out and pushes it back, publishes and checks for an interrupt, and the driver side reaps the used
 * entries. Memory is a real memfd mapped into a real {@link DmaTable}.
 *
 * <p>Baselines in the same run: {@code rawRing} does the same ring work by hand with plain segment
 * accesses and no validation (no DMA table lookups, no chain checks, no event index); {@code copyOnly}
 * only copies the same 64-byte buffers.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms512m", "-Xmx512m"})
public class VirtqueueBenchmark {
    static final int SIZE = 256;
    static final int BATCH = 64;
    static final int BUFFER = 64;

    private static final long IOVA = 0x1_0000_0000L;
    private static final long MEMORY = 1 << 20;
    private static final long RINGS = 0;
    private static final long BUFFERS = 0x10000;
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Param({"split", "packed"})
    public String layout;

    private DmaTable table;
    private MappedMemory driverView;
    private MemorySegment guest;
    private Arena arena;
    private MemorySegment scratch;
    private Virtqueue vq;
    private boolean packed;

    private long desc;
    private long driverArea;
    private long deviceArea;

    // Driver-side state.
    private int availIdx;
    private int packedNext;
    private boolean packedWrap = true;
    // Raw baseline device-side state.
    private int rawLastAvail;
    private int rawUsed;
    private int rawNextUsed;
    private boolean rawUsedWrap = true;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        packed = layout.equals("packed");
        table = new DmaTable(8);
        try (OwnedFd fd = Memfd.create("bench", MEMORY)) {
            driverView = MappedMemory.map(fd, 0, MEMORY, true);
            table.map(IOVA, MEMORY, true, true, fd.duplicate(), 0);
        }
        guest = driverView.segment();
        arena = Arena.ofConfined();
        scratch = arena.allocate(BUFFER, 64);
        for (int i = 0; i < SIZE; i++) {
            guest.asSlice(BUFFERS + (long) i * BUFFER, BUFFER).fill((byte) i);
        }
        desc = IOVA + RINGS;
        if (packed) {
            driverArea = desc + PackedRing.ringSize(SIZE);
            deviceArea = driverArea + 64;
        } else {
            driverArea = desc + SplitRing.descTableSize(SIZE);
            deviceArea = (driverArea + SplitRing.availSize(SIZE) + 4095) & -4096L;
            for (int i = 0; i < SIZE; i++) {
                long b = (long) i * SplitRing.DESC_SIZE;
                guest.set(LE64, RINGS + b + SplitRing.DESC_ADDR, IOVA + BUFFERS + (long) i * BUFFER);
                guest.set(LE32, RINGS + b + SplitRing.DESC_LEN, BUFFER);
            }
        }
        reset();
    }

    /** Fresh rings and positions before each measured iteration, for the engine and the raw baseline alike. */
    @Setup(Level.Iteration)
    public void reset() {
        long features = VirtioFeature.bits(VirtioFeature.VERSION_1, VirtioFeature.RING_EVENT_IDX)
                | (packed ? VirtioFeature.bit(VirtioFeature.RING_PACKED) : 0);
        if (vq != null) {
            vq.deactivate();
        }
        guest.asSlice(RINGS + (packed ? 0 : SplitRing.descTableSize(SIZE)), BUFFERS - RINGS
                - (packed ? 0 : SplitRing.descTableSize(SIZE))).fill((byte) 0);
        vq = Virtqueue.create(packed, 0, SIZE, new QueueCounters(), (q, reason) -> {
            throw new IllegalStateException(reason);
        });
        vq.configure(table, SIZE, desc, driverArea, deviceArea, features);
        vq.resetState();
        if (!vq.activate()) {
            throw new IllegalStateException(vq.failure());
        }
        availIdx = 0;
        packedNext = 0;
        packedWrap = true;
        rawLastAvail = 0;
        rawUsed = 0;
        rawNextUsed = 0;
        rawUsedWrap = true;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        vq.deactivate();
        table.close();
        driverView.close();
        arena.close();
    }

    private long off(long iova) {
        return iova - IOVA;
    }

    /** The driver makes BATCH buffers available. */
    private void post() {
        if (packed) {
            for (int k = 0; k < BATCH; k++) {
                long b = off(desc) + (long) packedNext * PackedRing.DESC_SIZE;
                guest.set(LE64, b + PackedRing.DESC_ADDR, IOVA + BUFFERS + (long) packedNext * BUFFER);
                guest.set(LE32, b + PackedRing.DESC_LEN, BUFFER);
                guest.set(LE16, b + PackedRing.DESC_ID, (short) packedNext);
                VarHandle.releaseFence();
                guest.set(LE16, b + PackedRing.DESC_FLAGS,
                        (short) (packedWrap ? PackedRing.DESC_F_AVAIL : PackedRing.DESC_F_USED));
                if (++packedNext == SIZE) {
                    packedNext = 0;
                    packedWrap = !packedWrap;
                }
            }
        } else {
            long ring = off(driverArea) + SplitRing.AVAIL_RING;
            for (int k = 0; k < BATCH; k++) {
                guest.set(LE16, ring + (long) SplitRing.AVAIL_ELEM_SIZE * (availIdx & (SIZE - 1)),
                        (short) (availIdx & (SIZE - 1)));
                availIdx++;
            }
            VarHandle.releaseFence();
            guest.set(LE16, off(driverArea) + SplitRing.AVAIL_IDX, (short) availIdx);
        }
    }

    /** The driver takes the used entries back (reads the used index / last used flags). */
    private int reap() {
        if (packed) {
            return guest.get(LE16, off(desc) + (long) ((packedNext + SIZE - 1) % SIZE) * PackedRing.DESC_SIZE
                    + PackedRing.DESC_FLAGS);
        }
        return guest.get(LE16, off(deviceArea) + SplitRing.USED_IDX);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long engine(CpuClock clock) {
        clock.descriptors += BATCH;
        post();
        long sum = 0;
        Virtqueue q = vq;
        if (q.begin()) {
            DescriptorChain c;
            while ((c = q.pop()) != null) {
                sum += c.readFrom(scratch);
                q.push(c, 0);
            }
            sum += q.needsInterrupt() ? 1 : 0;
            q.end();
        }
        return sum + reap();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long rawRing(CpuClock clock) {
        clock.descriptors += BATCH;
        post();
        long sum = 0;
        if (packed) {
            long ring = off(desc);
            for (int k = 0; k < BATCH; k++) {
                long b = ring + (long) rawNextUsed * PackedRing.DESC_SIZE;
                VarHandle.acquireFence();
                long addr = guest.get(LE64, b + PackedRing.DESC_ADDR);
                int len = guest.get(LE32, b + PackedRing.DESC_LEN);
                int id = guest.get(LE16, b + PackedRing.DESC_ID);
                MemorySegment.copy(guest, off(addr), scratch, 0, len);
                sum += len;
                guest.set(LE16, b + PackedRing.DESC_ID, (short) id);
                guest.set(LE32, b + PackedRing.DESC_LEN, 0);
                VarHandle.releaseFence();
                guest.set(LE16, b + PackedRing.DESC_FLAGS,
                        (short) (rawUsedWrap ? PackedRing.DESC_F_AVAIL | PackedRing.DESC_F_USED : 0));
                if (++rawNextUsed == SIZE) {
                    rawNextUsed = 0;
                    rawUsedWrap = !rawUsedWrap;
                }
            }
        } else {
            long avail = off(driverArea);
            long used = off(deviceArea);
            VarHandle.acquireFence();
            int idx = Short.toUnsignedInt(guest.get(LE16, avail + SplitRing.AVAIL_IDX));
            while (rawLastAvail != idx) {
                int head = guest.get(LE16, avail + SplitRing.AVAIL_RING + 2L * (rawLastAvail & (SIZE - 1)));
                long b = off(desc) + (long) head * SplitRing.DESC_SIZE;
                long addr = guest.get(LE64, b + SplitRing.DESC_ADDR);
                int len = guest.get(LE32, b + SplitRing.DESC_LEN);
                MemorySegment.copy(guest, off(addr), scratch, 0, len);
                sum += len;
                long e = used + SplitRing.USED_RING + (long) SplitRing.USED_ELEM_SIZE * (rawUsed & (SIZE - 1));
                guest.set(LE32, e, head);
                guest.set(LE32, e + 4, 0);
                rawUsed++;
                rawLastAvail = (rawLastAvail + 1) & 0xFFFF;
            }
            VarHandle.releaseFence();
            guest.set(LE16, used + SplitRing.USED_IDX, (short) rawUsed);
        }
        return sum + reap();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long copyOnly(CpuClock clock) {
        clock.descriptors += BATCH;
        long sum = 0;
        for (int k = 0; k < BATCH; k++) {
            MemorySegment.copy(guest, BUFFERS + (long) ((availIdx + k) & (SIZE - 1)) * BUFFER, scratch, 0, BUFFER);
            sum += scratch.get(ValueLayout.JAVA_BYTE, k & (BUFFER - 1));
        }
        availIdx += BATCH;
        return sum;
    }
}

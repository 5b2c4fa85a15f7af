package io.umdev.simblk.bench;

import io.umdev.linux.LinuxException;
import io.umdev.linux.RegularFile;
import io.umdev.mdev.Attributes;
import io.umdev.mdev.InstanceContext;
import io.umdev.mdev.MdevDevice;
import io.umdev.mdev.MdevType;
import io.umdev.simblk.SimBlkParent;
import io.umdev.virtio.driver.BlockCompletion;
import io.umdev.virtio.driver.BlockQueue;
import io.umdev.virtio.driver.VirtioBlockDisk;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
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
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * 4 KiB random reads and writes through the in-process virtio driver into sim-blk, on a RAM disk and on
 * a file in /tmp, at queue depth 1 and 16; beside, in the same run, raw pread/pwrite of 4 KiB on the same
 * kind of file from Java and a 4 KiB memory copy: what the virtio path costs over the store it wraps.
 * {@link #main} prints IOPS and the ratios.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class BlkBenchmarks {
    static final int BLOCK = 4096;
    static final long DISK_BYTES = 64L << 20;
    static final long BLOCKS = DISK_BYTES / BLOCK;
    static final int SECTORS_PER_BLOCK = BLOCK / BlkSpec.SECTOR_SIZE;
    /** Completions counted per benchmark call, so the depth can stay full across calls. */
    static final int BATCH = 64;
    private static final long AWAIT_SECONDS = 5;

    /** Makes a file of {@link #DISK_BYTES} in /tmp, filled, so reads hit data rather than holes. */
    static Path filledFile(String name) throws Exception {
        Path file = Files.createTempFile(Path.of("/tmp"), name, ".img");
        try (Arena arena = Arena.ofConfined(); RegularFile f = RegularFile.open(file, true, false)) {
            MemorySegment chunk = arena.allocate(1 << 20);
            SplittableRandom random = new SplittableRandom(1);
            for (long at = 0; at < DISK_BYTES; at += chunk.byteSize()) {
                for (long i = 0; i < chunk.byteSize(); i += Long.BYTES) {
                    chunk.set(java.lang.foreign.ValueLayout.JAVA_LONG, i, random.nextLong());
                }
                f.write(at, chunk);
            }
        }
        return file;
    }

    /** A sim-blk instance opened by the in-process driver, with requests kept {@code depth} deep on queue 0. */
    @State(Scope.Thread)
    public static class Disk implements BlockCompletion {
        @Param({"ram", "file"})
        public String store;
        @Param({"1", "16"})
        public int depth;

        private final SimBlkParent parent = new SimBlkParent();
        private InstanceContext context;
        private MdevDevice device;
        private VirtioBlockDisk disk;
        private BlockQueue queue;
        private Arena arena;
        private MemorySegment[] buffers;
        private int[] free;
        private int freeCount;
        private Path file;
        private long completed;
        private long target;
        private int failures;
        private final SplittableRandom random = new SplittableRandom(42);

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            MdevType type = parent.types().getFirst();
            LinkedHashMap<String, String> given = new LinkedHashMap<>();
            given.put(SimBlkParent.CAPACITY, Long.toString(DISK_BYTES));
            if (store.equals("file")) {
                file = filledFile("sim-blk-bench");
                given.put(SimBlkParent.BACKING_FILE, file.toString());
            }
            Attributes attributes = type.parseAttributes(given);
            context = new InstanceContext(UUID.randomUUID(), type, attributes, 8);
            device = parent.create(context);
            disk = VirtioBlockDisk.open(device.unwrap(VirtioDevice.class).orElseThrow());
            queue = disk.queue(0);
            if (queue.slots() < depth) {
                throw new IllegalStateException("queue 0 has " + queue.slots() + " slots, fewer than depth " + depth);
            }
            arena = Arena.ofConfined();
            buffers = new MemorySegment[depth];
            free = new int[depth];
            for (int i = 0; i < depth; i++) {
                buffers[i] = arena.allocate(BLOCK, BLOCK).fill((byte) i);
                free[i] = i;
            }
            freeCount = depth;
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            // Drain what is still in flight before the disk goes.
            while (freeCount < depth) {
                queue.await(AWAIT_SECONDS, TimeUnit.SECONDS);
                queue.complete(this);
            }
            disk.close();
            parent.remove(device);
            context.dmaTable().close();
            arena.close();
            if (file != null) {
                Files.deleteIfExists(file);
            }
            if (failures != 0) {
                throw new IllegalStateException(failures + " requests failed");
            }
        }

        @Override
        public void completed(long cookie, int status) {
            free[freeCount++] = (int) cookie;
            completed++;
            if (status != BlkSpec.S_OK) {
                failures++;
            }
        }

        /** Keeps {@code depth} requests in flight until {@link #BATCH} more have completed. */
        long run(boolean read) throws Exception {
            target += BATCH;
            while (completed < target) {
                boolean added = false;
                while (freeCount > 0 && queue.canSubmit()) {
                    int slot = free[freeCount - 1];
                    long sector = random.nextLong(BLOCKS) * SECTORS_PER_BLOCK;
                    boolean ok = read ? queue.submitRead(sector, buffers[slot], slot)
                            : queue.submitWrite(sector, buffers[slot], slot);
                    if (!ok) {
                        break;
                    }
                    freeCount--;
                    added = true;
                }
                if (added) {
                    queue.kick();
                }
                if (queue.complete(this) == 0) {
                    queue.await(AWAIT_SECONDS, TimeUnit.SECONDS);
                }
            }
            return completed;
        }
    }

    /** The baselines: the same file read and written with pread/pwrite, and a RAM disk's memory copied. */
    @State(Scope.Thread)
    public static class Raw {
        private Path path;
        private RegularFile file;
        private Arena arena;
        private MemorySegment buffer;
        private MemorySegment ram;
        private final SplittableRandom random = new SplittableRandom(42);

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            path = filledFile("sim-blk-baseline");
            file = RegularFile.open(path, true, false);
            arena = Arena.ofConfined();
            buffer = arena.allocate(BLOCK, BLOCK).fill((byte) 7);
            ram = arena.allocate(DISK_BYTES, BLOCK);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            file.close();
            arena.close();
            Files.deleteIfExists(path);
        }

        long offset() {
            return random.nextLong(BLOCKS) * BLOCK;
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long randomRead(Disk disk) throws Exception {
        return disk.run(true);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long randomWrite(Disk disk) throws Exception {
        return disk.run(false);
    }

    @Benchmark
    public long baselinePread(Raw raw) throws LinuxException {
        return raw.file.read(raw.offset(), raw.buffer);
    }

    @Benchmark
    public MemorySegment baselinePwrite(Raw raw) throws LinuxException {
        raw.file.write(raw.offset(), raw.buffer);
        return raw.buffer;
    }

    @Benchmark
    public MemorySegment baselineMemoryCopy(Raw raw) {
        MemorySegment.copy(raw.ram, raw.offset(), raw.buffer, 0, BLOCK);
        return raw.buffer;
    }

    public static void main(String[] args) throws RunnerException {
        Collection<RunResult> results = new Runner(new OptionsBuilder()
                .include(BlkBenchmarks.class.getName() + "\\.")
                .build()).run();
        Map<String, Double> iops = new LinkedHashMap<>();
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark().replaceFirst(".*\\.", "");
            String store = r.getParams().getParam("store");
            String depth = r.getParams().getParam("depth");
            String key = store == null ? name : name + " " + store + " QD" + depth;
            iops.put(key, r.getPrimaryResult().getScore());
        }
        System.out.println();
        System.out.println("4 KiB random IO, IOPS (queue 0, eventfd interrupts, 64 MiB disk; file in /tmp, page cache)");
        iops.forEach((k, v) -> System.out.printf("  %-28s %,12.0f%n", k, v));
        System.out.println("Ratios to the baselines measured in this run:");
        ratio(iops, "randomRead file QD1", "baselinePread");
        ratio(iops, "randomRead file QD16", "baselinePread");
        ratio(iops, "randomWrite file QD1", "baselinePwrite");
        ratio(iops, "randomWrite file QD16", "baselinePwrite");
        ratio(iops, "randomRead ram QD1", "baselineMemoryCopy");
        ratio(iops, "randomRead ram QD16", "baselineMemoryCopy");
        ratio(iops, "randomWrite ram QD1", "baselineMemoryCopy");
        ratio(iops, "randomWrite ram QD16", "baselineMemoryCopy");
    }

    private static void ratio(Map<String, Double> iops, String measured, String baseline) {
        Double m = iops.get(measured);
        Double b = iops.get(baseline);
        if (m != null && b != null) {
            System.out.printf("  %-28s / %-20s = %.3f%n", measured, baseline, m / b);
        }
    }
}

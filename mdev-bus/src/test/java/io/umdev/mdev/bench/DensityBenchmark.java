package io.umdev.mdev.bench;

import io.umdev.mdev.CreateRequest;
import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.InstanceContext;
import io.umdev.mdev.MdevBus;
import io.umdev.mdev.MdevDevice;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevInstance;
import io.umdev.mdev.MdevType;
import io.umdev.mdev.ParentDevice;
import io.umdev.vfiouser.dma.DmaTable;
import java.lang.management.ManagementFactory;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * How many instances one bus holds, and how fast it makes them: creates N (100,000 unless an argument
 * says otherwise) instances of a minimal parent's type through {@link MdevBus#create} in one JVM, and
 * prints instances/s and the heap retained per instance after GC, beside baselines measured in the
 * same run: N plain {@code HashMap} entries of UUID to a record, and N bare {@link DmaTable}s (an
 * instance's DMA context, which the bus makes only when the parent or a driver first asks for it). The
 * bus is measured twice: with a parent that never touches the DMA table, and with one that takes it at
 * create.
 *
 * <p>Run: {@code ./mvnw -Dbench=mdev-bus -DskipTests -pl mdev-bus -am verify}. Not a test: nothing here asserts a number.
 */
public final class DensityBenchmark {
    private static final int DEFAULT_COUNT = 100_000;
    private static final int ROUNDS = 6;

    private DensityBenchmark() {
    }

    /**
     * The smallest honest parent: one type, no attributes, a small object per device. With
     * {@code takesDma} it asks for the instance's DMA table at create, as a parent that wires its queues
     * to the table at once would; without, the table is never made.
     */
    private static final class MinimalParent implements ParentDevice {
        static final MdevType TYPE = MdevType.of("dev", "a minimal device", DeviceApi.VFIO_PCI, MdevType.UNLIMITED);

        private final boolean takesDma;

        MinimalParent(boolean takesDma) {
            this.takesDma = takesDma;
        }

        @Override
        public String name() {
            return "minimal";
        }

        @Override
        public List<MdevType> types() {
            return List.of(TYPE);
        }

        @Override
        public MdevDevice create(InstanceContext context) {
            if (takesDma) {
                context.dmaTable();
            }
            return new MinimalDevice();
        }

        @Override
        public void remove(MdevDevice device) {
        }
    }

    private static final class MinimalDevice implements MdevDevice {
        @Override
        public DeviceApi deviceApi() {
            return DeviceApi.VFIO_PCI;
        }
    }

    /** What the baseline map holds per UUID: roughly what an instance must remember at the least. */
    private record Entry(String parent, String type) {
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : DEFAULT_COUNT;
        System.out.printf("density benchmark: %,d instances per round, %d rounds (the first a warm-up), JDK %s, max heap %d MiB%n",
                n, ROUNDS, Runtime.version(), Runtime.getRuntime().maxMemory() >> 20);
        List<Result> map = new ArrayList<>();
        List<Result> dma = new ArrayList<>();
        List<Result> bus = new ArrayList<>();
        List<Result> busDma = new ArrayList<>();
        for (int round = 0; round < ROUNDS; round++) {
            boolean warmUp = round == 0;
            keep(warmUp, map, baselineMap(n));
            keep(warmUp, dma, baselineDmaTables(n));
            keep(warmUp, busDma, busInstances(n, true));
            keep(warmUp, bus, busInstances(n, false));
            if (warmUp) {
                System.out.println("warm-up done");
            } else {
                System.out.printf("round %d: map %,.0f/s, bus %,.0f/s, bus taking DMA %,.0f/s%n", round,
                        map.getLast().perSecond(), bus.getLast().perSecond(), busDma.getLast().perSecond());
            }
        }
        System.out.println();
        System.out.printf("%-44s %14s %16s %14s%n", "", "created/s", "retained B/each", "removed/s");
        Result m = median(map);
        Result b = median(bus);
        Result d = median(busDma);
        print("HashMap<UUID, record> (baseline)", m);
        print("new DmaTable(64) (baseline)", median(dma));
        print("MdevBus.create, DMA table not used yet", b);
        print("MdevBus.create, parent takes its DMA table", d);
        System.out.printf("%nmedians of %d rounds. bus instance vs map entry: %.1fx the heap, %.2fx the rate"
                + " (%.1fx and %.2fx when the DMA table is made)%n", ROUNDS - 1, b.bytesPerItem / m.bytesPerItem,
                b.perSecond / m.perSecond, d.bytesPerItem / m.bytesPerItem, d.perSecond / m.perSecond);
    }

    private static void keep(boolean warmUp, List<Result> results, Result result) {
        if (!warmUp) {
            results.add(result);
        }
    }

    /** Each figure's median over the measured rounds. */
    private static Result median(List<Result> results) {
        return new Result(median(results, Result::perSecond), median(results, Result::bytesPerItem),
                median(results, Result::removalsPerSecond));
    }

    private static double median(List<Result> results, java.util.function.ToDoubleFunction<Result> figure) {
        double[] values = results.stream().mapToDouble(figure).sorted().toArray();
        int mid = values.length / 2;
        return values.length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    private record Result(double perSecond, double bytesPerItem, double removalsPerSecond) {
    }

    private static void print(String name, Result r) {
        System.out.printf("%-44s %,14.0f %16.0f %14s%n", name, r.perSecond, r.bytesPerItem,
                r.removalsPerSecond > 0 ? String.format("%,.0f", r.removalsPerSecond) : "-");
    }

    private static Result baselineMap(int n) {
        long before = usedAfterGc();
        long start = System.nanoTime();
        Map<UUID, Entry> map = new HashMap<>();
        for (int i = 0; i < n; i++) {
            map.put(UUID.randomUUID(), new Entry("minimal", "dev"));
        }
        long elapsed = System.nanoTime() - start;
        long after = usedAfterGc();
        Reference.reachabilityFence(map);
        return new Result(n * 1e9 / elapsed, (after - before) / (double) n, 0);
    }

    private static Result baselineDmaTables(int n) {
        long before = usedAfterGc();
        long start = System.nanoTime();
        List<DmaTable> tables = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            tables.add(new DmaTable(MdevBus.DEFAULT_DMA_MAPPINGS));
        }
        long elapsed = System.nanoTime() - start;
        long after = usedAfterGc();
        // The list's own array is not part of a table.
        long listArray = 16L + 4L * n;
        Reference.reachabilityFence(tables);
        return new Result(n * 1e9 / elapsed, (after - before - listArray) / (double) n, 0);
    }

    private static Result busInstances(int n, boolean takesDma) throws MdevException {
        MdevBus bus = new MdevBus();
        bus.addParent(new MinimalParent(takesDma));
        CreateRequest request = CreateRequest.of("minimal", "dev");
        long before = usedAfterGc();
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            bus.create(request);
        }
        long elapsed = System.nanoTime() - start;
        long after = usedAfterGc();
        if (bus.instanceCount() != n) {
            throw new IllegalStateException("created " + bus.instanceCount() + " of " + n);
        }
        List<UUID> uuids = bus.instances().stream().map(MdevInstance::uuid).toList();
        long removeStart = System.nanoTime();
        for (UUID uuid : uuids) {
            bus.remove(uuid);
        }
        long removeElapsed = System.nanoTime() - removeStart;
        bus.close();
        return new Result(n * 1e9 / elapsed, (after - before) / (double) n, n * 1e9 / removeElapsed);
    }

    /** Heap in use after collections have stopped freeing anything (bounded number of tries). */
    private static long usedAfterGc() {
        var memory = ManagementFactory.getMemoryMXBean();
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 10; i++) {
            System.gc();
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            long now = memory.getHeapMemoryUsage().getUsed();
            if (now >= used) {
                return now;
            }
            used = now;
        }
        return used;
    }
}

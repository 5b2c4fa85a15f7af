package io.umdev.simnet.bench;

import io.umdev.mdev.CreateRequest;
import io.umdev.mdev.MdevBus;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevInstance;
import io.umdev.simnet.SimNetParent;
import io.umdev.simnet.l2.Ethernet;
import io.umdev.virtio.driver.DriverOptions;
import io.umdev.virtio.driver.VirtioDriverException;
import io.umdev.virtio.driver.VirtioNetPort;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
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
 * Packets per second through sim-net, driven by the in-process virtio driver: loopback (one device,
 * what it sends comes back) and a two-port switch (one device sends to another, the switch having
 * learned the destination), with 64- and 1500-byte frames, in bursts of {@link #BURST}. Beside them,
 * in the same run, the baseline: the same frames copied from one MemorySegment to another, with no
 * device in between. {@link #main} prints packets/s and the ratio to the baseline.
 *
 * <p>Run: {@code ./mvnw -Dbench=sim-net -DskipTests -pl parents/sim-net -am verify}. Not a test: nothing asserts a number.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class SimNetBenchmarks {
    /** Frames sent before the first is taken back. */
    public static final int BURST = 32;
    private static final long SOURCE = 0x02_00_00_00_be_01L;

    @Param({"64", "1500"})
    public int frameSize;

    private MdevBus bus;
    private VirtioNetPort sender;
    private VirtioNetPort receiver;
    private MemorySegment frame;
    private MemorySegment into;
    private Arena arena;
    private MemorySegment copySource;
    private MemorySegment copyTarget;

    private VirtioNetPort open(MdevInstance instance) throws VirtioDriverException {
        return VirtioNetPort.open(instance.device().unwrap(VirtioDevice.class).orElseThrow(), DriverOptions.defaults());
    }

    private MdevInstance create(String mode) throws MdevException {
        return bus.create(CreateRequest.of(SimNetParent.NAME, SimNetParent.TYPE).withAttribute("mode", mode));
    }

    private static MemorySegment frame(long destination, long source, int size) {
        MemorySegment f = MemorySegment.ofArray(new byte[size]);
        Ethernet.putAddress(f, Ethernet.DESTINATION_OFFSET, destination);
        Ethernet.putAddress(f, Ethernet.SOURCE_OFFSET, source);
        for (int i = Ethernet.ETHERTYPE_OFFSET; i < size; i++) {
            f.set(ValueLayout.JAVA_BYTE, i, (byte) i);
        }
        return f;
    }

    /** The devices for the benchmark about to run; the baseline's two segments. */
    @Setup(Level.Trial)
    public void setUp(org.openjdk.jmh.infra.BenchmarkParams params) throws Exception {
        arena = Arena.ofShared();
        copySource = arena.allocate((long) BURST * frameSize, 64);
        copyTarget = arena.allocate((long) BURST * frameSize, 64);
        into = MemorySegment.ofArray(new byte[2048]);
        if (params.getBenchmark().endsWith("copyBaseline")) {
            return;
        }
        bus = new MdevBus();
        bus.addParent(new SimNetParent());
        if (params.getBenchmark().endsWith("loopback")) {
            sender = open(create("loopback"));
            receiver = sender;
        } else {
            sender = open(create("switch"));
            receiver = open(create("switch"));
            // The receiver speaks first, so the switch knows where its address is.
            receiver.send(0, frame(Ethernet.BROADCAST, receiver.mac().value(), 60));
            take(sender);
        }
        frame = frame(receiver.mac().value(), SOURCE, frameSize);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (sender != null) {
            sender.close();
        }
        if (receiver != null && receiver != sender) {
            receiver.close();
        }
        if (bus != null) {
            bus.close();
        }
        arena.close();
    }

    private int take(VirtioNetPort port) throws VirtioDriverException {
        int length;
        while ((length = port.receive(0, into)) < 0) {
            port.awaitReceive(0, 1, TimeUnit.SECONDS);
        }
        return length;
    }

    private void burst() throws VirtioDriverException {
        for (int i = 0; i < BURST; i++) {
            while (!sender.send(0, frame)) {
                sender.awaitTransmit(0, 1, TimeUnit.SECONDS);
            }
        }
        for (int i = 0; i < BURST; i++) {
            take(receiver);
        }
    }

    /** One device; each frame goes out on tx0 and comes back on rx0. */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public void loopback() throws VirtioDriverException {
        burst();
    }

    /** Two devices on one switch; each frame goes from the first's tx0 to the second's rx0. */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public void twoPortSwitch() throws VirtioDriverException {
        burst();
    }

    /** The floor: the same frames copied from one segment to another, no device, no ring. */
    @Benchmark
    @OperationsPerInvocation(BURST)
    public MemorySegment copyBaseline() {
        for (int i = 0; i < BURST; i++) {
            MemorySegment.copy(copySource, (long) i * frameSize, copyTarget, (long) i * frameSize, frameSize);
        }
        return copyTarget;
    }

    public static void main(String[] args) throws RunnerException {
        Collection<RunResult> results = new Runner(new OptionsBuilder()
                .include(SimNetBenchmarks.class.getName() + "\\.")
                .build()).run();
        Map<String, Double> perSecond = new TreeMap<>();
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark().replaceAll(".*\\.", "") + "/" + r.getParams().getParam("frameSize");
            perSecond.put(name, r.getPrimaryResult().getScore());
        }
        System.out.println();
        System.out.println("sim-net packets/s (bursts of " + BURST + "; machine: " + Runtime.getRuntime().availableProcessors()
                + " CPUs)");
        for (String size : new String[] {"64", "1500"}) {
            double baseline = perSecond.getOrDefault("copyBaseline/" + size, Double.NaN);
            for (String bench : new String[] {"copyBaseline", "loopback", "twoPortSwitch"}) {
                double value = perSecond.getOrDefault(bench + "/" + size, Double.NaN);
                double gbits = value * Integer.parseInt(size) * Byte.SIZE / 1e9;
                System.out.println(String.format(Locale.ROOT, "  %-14s %5s B  %,15.0f pkt/s  %8.2f Gbit/s  baseline/this %8.1f",
                        bench, size, value, gbits, baseline / value));
            }
        }
    }
}

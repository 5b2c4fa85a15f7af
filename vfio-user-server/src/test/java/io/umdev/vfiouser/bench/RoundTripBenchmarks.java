package io.umdev.vfiouser.bench;

import io.umdev.linux.CpuAffinity;
import io.umdev.vfiouser.client.VfioUserClient;
import io.umdev.vfiouser.server.ServerOptions;
import io.umdev.vfiouser.server.VfioUserServer;
import io.umdev.vfiouser.testing.ScratchDevice;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.util.Statistics;

/**
 * The round trip of a 4-byte REGION_READ, our client against our server and {@link ScratchDevice},
 * beside the floor: a plain JDK Unix-socket ping-pong of the same sizes (32-byte request, 36-byte
 * reply) between the benchmark thread and an echo thread. Each runs with both ends pinned to CPU 0 and
 * unpinned. {@link #main} runs both through JMH (SampleTime) and prints p50/p99 and the ratios.
 *
 * <p>Run: {@code ./mvnw -Dbench=vfio-user-server -DskipTests -pl vfio-user-server -am verify}; settings (see {@link #main}) go in
 * {@code -Dbench.args="warmup=5x1 measure=5x3 forks=1 prof=gc"}.
 */
public class RoundTripBenchmarks {
    /** REGION_READ request: 16-byte header + offset, region, count. */
    static final int REQUEST_BYTES = 32;
    /** REGION_READ reply: 16-byte header + offset, region, count + 4 data bytes. */
    static final int REPLY_BYTES = 36;
    static final long REGISTER = 0x80;

    /** Pins the benchmark thread before anything it starts exists, so those threads inherit CPU 0. */
    static void pinIfAsked(boolean pinned) throws IOException {
        if (pinned) {
            CpuAffinity.setCurrentThread(0);
        }
    }

    /** Our client, server and device; every thread of theirs is started after the pinning. */
    @State(Scope.Thread)
    public static class VfioUser {
        @Param({"true", "false"})
        public boolean pinned;

        Path dir;
        ScratchDevice device;
        VfioUserServer server;
        VfioUserClient client;

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            pinIfAsked(pinned);
            dir = Files.createTempDirectory("umdev-bench");
            device = new ScratchDevice();
            device.registers().set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, REGISTER, 0x1234_5678);
            server = VfioUserServer.start(dir.resolve("bench.sock"), device, ServerOptions.defaults());
            client = VfioUserClient.connect(server.socketPath());
            if (client.regionRead(ScratchDevice.BAR0, REGISTER, 4).get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0)
                    != 0x1234_5678) {
                throw new IllegalStateException("REGION_READ returned the wrong value");
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            System.out.println("\naffinity: " + Affinity.describe());
            client.close();
            server.close();
            device.close();
            Files.deleteIfExists(dir);
        }
    }

    /** A JDK Unix-domain socket pair and an echo thread answering 36 bytes to every 32. */
    @State(Scope.Thread)
    public static class Floor {
        @Param({"true", "false"})
        public boolean pinned;

        Path dir;
        SocketChannel channel;
        Thread echo;
        final ByteBuffer request = ByteBuffer.allocateDirect(REQUEST_BYTES);
        final ByteBuffer reply = ByteBuffer.allocateDirect(REPLY_BYTES);

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            pinIfAsked(pinned);
            dir = Files.createTempDirectory("umdev-bench");
            UnixDomainSocketAddress address = UnixDomainSocketAddress.of(dir.resolve("floor.sock"));
            try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                listener.bind(address);
                channel = SocketChannel.open(address);
                SocketChannel peer = listener.accept();
                echo = Thread.ofPlatform().name("jdk-echo").daemon(true).start(() -> echo(peer));
            }
        }

        private static void echo(SocketChannel peer) {
            ByteBuffer in = ByteBuffer.allocateDirect(REQUEST_BYTES);
            ByteBuffer out = ByteBuffer.allocateDirect(REPLY_BYTES);
            try (peer) {
                while (true) {
                    in.clear();
                    while (in.hasRemaining()) {
                        if (peer.read(in) < 0) {
                            return;
                        }
                    }
                    out.clear();
                    while (out.hasRemaining()) {
                        peer.write(out);
                    }
                }
            } catch (IOException e) {
                // closed by the benchmark
            }
        }

        int roundTrip() throws IOException {
            request.clear();
            while (request.hasRemaining()) {
                channel.write(request);
            }
            reply.clear();
            while (reply.hasRemaining()) {
                if (channel.read(reply) < 0) {
                    throw new IOException("echo thread gone");
                }
            }
            return reply.get(REPLY_BYTES - 1);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws Exception {
            System.out.println("\naffinity: " + Affinity.describe());
            channel.close();
            echo.join(1000);
            try (Stream<Path> files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public MemorySegment vfioUserRegionRead(VfioUser s) throws IOException {
        return s.client.regionRead(ScratchDevice.BAR0, REGISTER, 4);
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public int jdkFloor(Floor s) throws IOException {
        return s.roundTrip();
    }

    /** Which CPUs the threads of a round trip may run on (from /proc), to show the pinning took. */
    static final class Affinity {
        private Affinity() {
        }

        static String describe() {
            List<String> out = new ArrayList<>();
            try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
                out.add("benchmark thread=" + allowed(Path.of("/proc/thread-self")));
                for (Path task : tasks.toList()) {
                    String name = Files.readString(task.resolve("comm")).trim();
                    if (name.startsWith("vfio-user") || name.startsWith("jdk-echo")) {
                        out.add(name + "=" + allowed(task));
                    }
                }
            } catch (IOException e) {
                out.add(e.toString());
            }
            out.sort(Comparator.naturalOrder());
            return String.join(", ", out);
        }

        private static String allowed(Path task) throws IOException {
            return Files.readAllLines(task.resolve("status")).stream()
                    .filter(l -> l.startsWith("Cpus_allowed_list")).findFirst().orElse("?")
                    .replaceAll("Cpus_allowed_list:\\s*", "");
        }
    }

    // ---- the run ----------------------------------------------------------------------------------

    /**
     * Arguments (each may also be a system property {@code bench.<name>}): {@code forks=N},
     * {@code warmup=IxS} and {@code measure=IxS} (I iterations of S seconds), {@code prof=<JMH profiler>}.
     */
    public static void main(String[] args) throws RunnerException {
        for (String arg : args) {
            for (String setting : arg.trim().split("\\s+")) {
                int eq = setting.indexOf('=');
                if (eq > 0) {
                    System.setProperty("bench." + setting.substring(0, eq), setting.substring(eq + 1));
                } else if (!setting.isEmpty()) {
                    throw new IllegalArgumentException("expected name=value, not " + setting);
                }
            }
        }
        int[] warmup = iterations("bench.warmup", 5, 1);
        int[] measure = iterations("bench.measure", 5, 3);
        OptionsBuilder builder = new OptionsBuilder();
        builder.include(RoundTripBenchmarks.class.getName() + "\\.")
                .forks(Integer.getInteger("bench.forks", 1))
                .warmupIterations(warmup[0]).warmupTime(TimeValue.seconds(warmup[1]))
                .measurementIterations(measure[0]).measurementTime(TimeValue.seconds(measure[1]))
                .threads(1)
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED", "-Xms512m", "-Xmx512m")
                .shouldFailOnError(true);
        String prof = System.getProperty("bench.prof");
        if (prof != null && !prof.isBlank()) {
            builder.addProfiler(prof);
        }
        Options options = builder.build();
        Collection<RunResult> results = new Runner(options).run();
        System.out.println();
        System.out.println(table(results));
    }

    private static int[] iterations(String property, int count, int seconds) {
        String v = System.getProperty(property);
        if (v == null) {
            return new int[] {count, seconds};
        }
        String[] parts = v.split("x");
        return new int[] {Integer.parseInt(parts[0]), Integer.parseInt(parts[1])};
    }

    /** p50 and p99 per (pinning, benchmark), and our stack over the floor. */
    static String table(Collection<RunResult> results) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT,
                "Round trip, 4-byte REGION_READ (vfio-user client -> server -> ScratchDevice) vs JDK Unix-socket%n"
                        + "ping-pong of the same sizes (%d-byte request, %d-byte reply); JMH SampleTime, microseconds.%n",
                REQUEST_BYTES, REPLY_BYTES));
        s.append(String.format(Locale.ROOT, "%-9s %-24s %9s %9s %9s %11s%n", "pinned", "benchmark", "p50", "p99", "mean",
                "samples"));
        for (String pinned : new String[] {"true", "false"}) {
            Statistics ours = null;
            Statistics floor = null;
            for (RunResult r : results) {
                if (!pinned.equals(r.getParams().getParam("pinned"))) {
                    continue;
                }
                String name = r.getParams().getBenchmark();
                Statistics st = r.getPrimaryResult().getStatistics();
                if (name.endsWith("vfioUserRegionRead")) {
                    ours = st;
                } else if (name.endsWith("jdkFloor")) {
                    floor = st;
                }
            }
            row(s, pinned, "vfio-user REGION_READ", ours);
            row(s, pinned, "JDK floor (ping-pong)", floor);
            if (ours != null && floor != null) {
                s.append(String.format(Locale.ROOT, "%-9s %-24s %8.2fx %8.2fx %8.2fx%n", pinned, "ratio vfio-user/floor",
                        ours.getPercentile(50) / floor.getPercentile(50), ours.getPercentile(99) / floor.getPercentile(99),
                        ours.getMean() / floor.getMean()));
            }
        }
        return s.toString();
    }

    private static void row(StringBuilder s, String pinned, String name, Statistics st) {
        if (st == null) {
            s.append(String.format(Locale.ROOT, "%-9s %-24s %9s%n", pinned, name, "(no result)"));
            return;
        }
        s.append(String.format(Locale.ROOT, "%-9s %-24s %9.2f %9.2f %9.2f %11d%n", pinned, name, st.getPercentile(50),
                st.getPercentile(99), st.getMean(), st.getN()));
    }
}

package io.umdev.virtio.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs {@link VirtqueueBenchmark} and prints descriptors/s per layout with the engine's ratio to each
 * baseline. Arguments: {@code -prof=<profiler>} adds a JMH profiler (e.g. {@code stack}); {@code -quick}
 * shortens the run; {@code -only=<method>} runs one benchmark method.
 * Run: {@code ./mvnw -Dbench=virtio-mdev -DskipTests -pl virtio-mdev -am verify} (pin with taskset).
 * Not a test: nothing here asserts a number.
 */
public final class VirtqueueBenchmarks {
    private VirtqueueBenchmarks() {
    }

    public static void main(String[] argv) throws Exception {
        // Maven passes -Dbench.args as one argument: split it.
        String[] args = String.join(" ", argv).trim().split("\\s+");
        String include = VirtqueueBenchmark.class.getSimpleName();
        for (String arg : args) {
            if (arg.startsWith("-only=")) {
                include = include + "\\." + arg.substring("-only=".length()) + "$";
            }
        }
        ChainedOptionsBuilder options = new OptionsBuilder().include(include);
        for (String arg : args) {
            if (arg.startsWith("-prof=")) {
                String[] profiler = arg.substring("-prof=".length()).split(":", 2);
                if (profiler.length == 2) {
                    options.addProfiler(profiler[0], profiler[1]);
                } else {
                    options.addProfiler(profiler[0]);
                }
            } else if (arg.equals("-quick")) {
                options.warmupIterations(1).measurementIterations(2);
            }
        }
        Collection<RunResult> results = new Runner(options.build()).run();
        Map<String, Double> score = new HashMap<>();
        Map<String, Double> cpuScore = new HashMap<>();
        for (RunResult r : results) {
            String method = r.getParams().getBenchmark();
            method = method.substring(method.lastIndexOf('.') + 1);
            String key = r.getParams().getParam("layout") + "/" + method;
            score.put(key, r.getPrimaryResult().getScore());
            var secondary = r.getSecondaryResults();
            if (secondary.containsKey("cpuNanos") && secondary.containsKey("descriptors")) {
                cpuScore.put(key, secondary.get("descriptors").getScore() / secondary.get("cpuNanos").getScore() * 1e9);
            }
        }
        List<String> lines = new ArrayList<>();
        for (String layout : List.of("split", "packed")) {
            double engine = score.getOrDefault(layout + "/engine", Double.NaN);
            double raw = score.getOrDefault(layout + "/rawRing", Double.NaN);
            double copy = score.getOrDefault(layout + "/copyOnly", Double.NaN);
            lines.add(String.format("%-6s wall clock: engine %6.1f M desc/s | raw ring (no validation) %6.1f M/s, engine/raw %.2f | "
                    + "64-byte copy only %6.1f M/s, engine/copy %.2f", layout, engine / 1e6, raw / 1e6, engine / raw,
                    copy / 1e6, engine / copy));
        }
        for (String layout : List.of("split", "packed")) {
            double engine = cpuScore.getOrDefault(layout + "/engine", Double.NaN);
            double raw = cpuScore.getOrDefault(layout + "/rawRing", Double.NaN);
            double copy = cpuScore.getOrDefault(layout + "/copyOnly", Double.NaN);
            lines.add(String.format("%-6s per CPU-second of the benchmark thread: engine %6.1f M desc/s | raw ring %6.1f M/s, "
                    + "engine/raw %.2f | copy only %6.1f M/s, engine/copy %.2f", layout, engine / 1e6, raw / 1e6,
                    engine / raw, copy / 1e6, engine / copy));
        }
        System.out.println();
        System.out.println("Virtqueue engine, one thread, " + VirtqueueBenchmark.BATCH + "-descriptor batches of "
                + VirtqueueBenchmark.BUFFER + "-byte buffers, queue size " + VirtqueueBenchmark.SIZE + ":");
        lines.forEach(System.out::println);
    }
}

package io.umdev.virtio.driver.bench;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs {@link DriverBenchmark} and prints requests/s per ring layout and interrupt mode, beside the
 * copy-only baseline. Arguments: {@code -quick} shortens the run; {@code -only=<method>} runs one
 * benchmark method. Run: {@code ./mvnw -Dbench=virtio-mdev-driver -DskipTests -pl virtio-mdev -am verify}.
 * Not a test: nothing here asserts a number.
 */
public final class DriverBenchmarks {
    private DriverBenchmarks() {
    }

    public static void main(String[] argv) throws Exception {
        String[] args = String.join(" ", argv).trim().split("\\s+");
        String include = DriverBenchmark.class.getSimpleName();
        ChainedOptionsBuilder options = new OptionsBuilder();
        for (String arg : args) {
            if (arg.startsWith("-only=")) {
                include = include + "\\." + arg.substring("-only=".length()) + "$";
            } else if (arg.equals("-quick")) {
                options.warmupIterations(1).measurementIterations(2);
            }
        }
        Collection<RunResult> results = new Runner(options.include(include).build()).run();
        Map<String, Double> score = new TreeMap<>();
        double copy = Double.NaN;
        for (RunResult r : results) {
            String method = r.getParams().getBenchmark();
            method = method.substring(method.lastIndexOf('.') + 1);
            if (method.equals("copyBaseline4k")) {
                // Measured once per parameter set; the best of them is the least disturbed.
                double s = r.getPrimaryResult().getScore();
                copy = Double.isNaN(copy) ? s : Math.max(copy, s);
                continue;
            }
            score.put(String.format("%-14s %-6s %-7s", method, r.getParams().getParam("layout"),
                    r.getParams().getParam("interrupts")), r.getPrimaryResult().getScore());
        }
        System.out.println();
        System.out.println("In-process driver over SoftwareVirtioDevice, " + DriverBenchmark.DEPTH
                + " in flight, queue size " + DriverBenchmark.QUEUE_SIZE + " (ops/s; two threads):");
        for (Map.Entry<String, Double> e : score.entrySet()) {
            System.out.printf("%s %10.0f/s%n", e.getKey(), e.getValue());
        }
        System.out.printf("two 4 KiB copies only (baseline, one thread) %10.0f/s%n", copy);
    }
}

package io.umdev.it;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * umdev's block figures beside QEMU's built-in virtio-blk-pci, measured in rounds in one guest: round 1 on
 * every disk, then round 2 on every disk, and so on, so that host load and the daemon's JIT warm-up fall on
 * all disks alike. Each figure is the median over the rounds; its ratio to QEMU is the median of the
 * rounds' own ratios (each umdev round over the QEMU round next to it, so that a slow minute of the host
 * cancels out; for latencies QEMU/umdev, so that above 1.0 always means umdev is better), for umdev with
 * adaptive polling and without. The first {@code warmupRounds} rounds are shown but left out of the medians,
 * as a benchmark harness discards its warm-up iterations: they carry the daemon's JIT compilation (its first
 * requests run interpreted) and the first touch of every page. {@code daemonCpu} is what umdevd (serving
 * both umdev disks) consumed in {@code wall}, the guest's whole run.
 */
record BlockComparison(Accel accel, List<BlockReport> polled, List<BlockReport> notified, List<BlockReport> qemu,
        int warmupRounds, Duration daemonCpu, Duration wall) {

    private static final double NANOS_PER_SECOND = TimeUnit.SECONDS.toNanos(1);

    record Row(String figure, String unit, double polled, double notified, double qemu, double polledRatio,
            double notifiedRatio) {
    }

    BlockComparison {
        polled = List.copyOf(polled);
        notified = List.copyOf(notified);
        qemu = List.copyOf(qemu);
        if (qemu.isEmpty() || polled.size() != qemu.size() || notified.size() != qemu.size()) {
            throw new IllegalArgumentException("rounds differ: polled %d, notified %d, QEMU %d"
                    .formatted(polled.size(), notified.size(), qemu.size()));
        }
        if (warmupRounds < 0 || warmupRounds >= qemu.size()) {
            throw new IllegalArgumentException("%d warm-up rounds of %d leave none measured"
                    .formatted(warmupRounds, qemu.size()));
        }
    }

    /** The rounds after the warm-up. */
    private List<BlockReport> measured(List<BlockReport> rounds) {
        return rounds.subList(warmupRounds, rounds.size());
    }

    List<Row> rows() {
        return List.of(
                higherIsBetter("sequential read 1 MiB QD1", "MB/s", r -> r.sequentialRead().mbPerSecond()),
                higherIsBetter("sequential write 1 MiB QD1", "MB/s", r -> r.sequentialWrite().mbPerSecond()),
                higherIsBetter("random read 4 KiB QD1", "IOPS", r -> r.randomRead().iops()),
                lowerIsBetter("random read p50", "µs", r -> r.randomRead().latency().p50Micros()),
                lowerIsBetter("random read p99", "µs", r -> r.randomRead().latency().p99Micros()),
                higherIsBetter("random write 4 KiB QD1", "IOPS", r -> r.randomWrite().iops()),
                lowerIsBetter("random write p50", "µs", r -> r.randomWrite().latency().p50Micros()),
                lowerIsBetter("random write p99", "µs", r -> r.randomWrite().latency().p99Micros()));
    }

    /** The median of the rounds' sequential read ratios, umdev (polled) over QEMU: the target is at least 1.0. */
    double sequentialReadRatio() {
        List<Double> byRound = sequentialReadRatiosByRound(polled);
        return median(byRound.subList(warmupRounds, byRound.size()));
    }

    /** Each round's sequential read ratio to QEMU's in the same round, warm-up included: the spread the medians hide. */
    List<Double> sequentialReadRatiosByRound(List<BlockReport> umdev) {
        return IntStream.range(0, qemu.size())
                .mapToObj(i -> sequentialRead(umdev.get(i)) / sequentialRead(qemu.get(i))).toList();
    }

    /** umdevd's CPU time over the guest's wall time: how many CPUs the daemon kept busy on average. */
    double daemonCpus() {
        return (double) daemonCpu.toNanos() / wall.toNanos();
    }

    /** A Markdown table with the rounds' spread and the daemon's CPU time below it, as pasted into it/README.md. */
    String table() {
        StringBuilder text = new StringBuilder(("| figure (%s), median of %d rounds | umdev polled | umdev not polled "
                + "| QEMU virtio-blk-pci | polled vs QEMU (median of rounds) | not polled vs QEMU |\n")
                .formatted(accel, qemu.size() - warmupRounds))
                .append("|---|---:|---:|---:|---:|---:|\n");
        for (Row row : rows()) {
            text.append("| %s, %s | %.1f | %.1f | %.1f | %.2fx | %.2fx |\n".formatted(row.figure(), row.unit(),
                    row.polled(), row.notified(), row.qemu(), row.polledRatio(), row.notifiedRatio()));
        }
        return text.append("\nsequential read vs QEMU by round (the first %d warm-up): polled %s; not polled %s\n"
                        .formatted(warmupRounds, ratios(sequentialReadRatiosByRound(polled)),
                                ratios(sequentialReadRatiosByRound(notified))))
                .append("umdevd CPU time during the guest run (both umdev disks): %.1f s in %.1f s wall, %.2f CPUs\n"
                        .formatted(seconds(daemonCpu), seconds(wall), daemonCpus()))
                .toString();
    }

    static double median(List<BlockReport> rounds, ToDoubleFunction<BlockReport> figure) {
        return median(rounds.stream().map(figure::applyAsDouble).toList());
    }

    static double median(List<Double> values) {
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int middle = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private Row higherIsBetter(String figure, String unit, ToDoubleFunction<BlockReport> of) {
        return row(figure, unit, of, true);
    }

    private Row lowerIsBetter(String figure, String unit, ToDoubleFunction<BlockReport> of) {
        return row(figure, unit, of, false);
    }

    /** Medians of the measured rounds; ratios oriented so that above 1.0 is umdev ahead. */
    private Row row(String figure, String unit, ToDoubleFunction<BlockReport> of, boolean higherIsBetter) {
        List<BlockReport> p = measured(polled);
        List<BlockReport> n = measured(notified);
        List<BlockReport> q = measured(qemu);
        return new Row(figure, unit, median(p, of), median(n, of), median(q, of),
                higherIsBetter ? medianRatio(p, q, of) : medianRatio(q, p, of),
                higherIsBetter ? medianRatio(n, q, of) : medianRatio(q, n, of));
    }

    /** The median over rounds of {@code of(numerator round i) / of(denominator round i)}. */
    private static double medianRatio(List<BlockReport> numerator, List<BlockReport> denominator,
            ToDoubleFunction<BlockReport> of) {
        return median(IntStream.range(0, numerator.size())
                .mapToObj(i -> of.applyAsDouble(numerator.get(i)) / of.applyAsDouble(denominator.get(i))).toList());
    }

    private static double sequentialRead(BlockReport report) {
        return report.sequentialRead().mbPerSecond();
    }

    private static String ratios(List<Double> ratios) {
        return ratios.stream().map("%.2fx"::formatted).collect(Collectors.joining(", "));
    }

    private static double seconds(Duration duration) {
        return duration.toNanos() / NANOS_PER_SECOND;
    }
}

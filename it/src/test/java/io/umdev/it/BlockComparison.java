package io.umdev.it;

import java.util.List;

/**
 * umdev's block figures beside QEMU's built-in virtio-blk-pci, measured in the same test run: one row per
 * figure with the ratio umdev/QEMU (for latencies QEMU/umdev, so that above 1.0 always means umdev is better).
 */
record BlockComparison(Accel accel, BlockReport umdev, BlockReport qemu) {

    record Row(String figure, String unit, double umdev, double qemu, double ratio) {
    }

    List<Row> rows() {
        return List.of(
                higherIsBetter("sequential read 1 MiB QD1", "MB/s", umdev.sequentialRead().mbPerSecond(), qemu.sequentialRead().mbPerSecond()),
                higherIsBetter("sequential write 1 MiB QD1", "MB/s", umdev.sequentialWrite().mbPerSecond(), qemu.sequentialWrite().mbPerSecond()),
                higherIsBetter("random read 4 KiB QD1", "IOPS", umdev.randomRead().iops(), qemu.randomRead().iops()),
                lowerIsBetter("random read p50", "µs", umdev.randomRead().latency().p50Micros(), qemu.randomRead().latency().p50Micros()),
                lowerIsBetter("random read p99", "µs", umdev.randomRead().latency().p99Micros(), qemu.randomRead().latency().p99Micros()),
                higherIsBetter("random write 4 KiB QD1", "IOPS", umdev.randomWrite().iops(), qemu.randomWrite().iops()),
                lowerIsBetter("random write p50", "µs", umdev.randomWrite().latency().p50Micros(), qemu.randomWrite().latency().p50Micros()),
                lowerIsBetter("random write p99", "µs", umdev.randomWrite().latency().p99Micros(), qemu.randomWrite().latency().p99Micros()));
    }

    /** umdev's sequential read over QEMU's: the target is at least 1.0. */
    double sequentialReadRatio() {
        return umdev.sequentialRead().mbPerSecond() / qemu.sequentialRead().mbPerSecond();
    }

    /** A Markdown table, as pasted into it/README.md. */
    String table() {
        StringBuilder text = new StringBuilder("| figure (" + accel + ") | umdev vfio-user | QEMU virtio-blk-pci | umdev vs QEMU |\n")
                .append("|---|---:|---:|---:|\n");
        for (Row row : rows()) {
            text.append("| %s | %.1f %s | %.1f %s | %.2fx |\n".formatted(row.figure(), row.umdev(), row.unit(), row.qemu(),
                    row.unit(), row.ratio()));
        }
        return text.toString();
    }

    private static Row higherIsBetter(String figure, String unit, double umdev, double qemu) {
        return new Row(figure, unit, umdev, qemu, umdev / qemu);
    }

    private static Row lowerIsBetter(String figure, String unit, double umdev, double qemu) {
        return new Row(figure, unit, umdev, qemu, qemu / umdev);
    }
}

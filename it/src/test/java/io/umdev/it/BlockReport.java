package io.umdev.it;

/**
 * Everything the blk workload reported for one disk. This is the shape every block figure is compared in:
 * the native QEMU virtio-blk baseline and, later, umdev's devices.
 */
public record BlockReport(
        BlockDevice device,
        SequentialIo sequentialWrite,
        SequentialIo sequentialRead,
        RandomIo randomWrite,
        RandomIo randomRead,
        BlockIntegrity integrity) {

    /** One line for logs and reports. */
    public String summary() {
        return ("%s: seq write %.0f MB/s, seq read %.0f MB/s; 4k rand write %.0f IOPS (p50 %.0f µs, p99 %.0f µs), "
                + "4k rand read %.0f IOPS (p50 %.0f µs, p99 %.0f µs); integrity %s")
                .formatted(device.dev(), sequentialWrite.mbPerSecond(), sequentialRead.mbPerSecond(),
                        randomWrite.iops(), randomWrite.latency().p50Micros(), randomWrite.latency().p99Micros(),
                        randomRead.iops(), randomRead.latency().p50Micros(), randomRead.latency().p99Micros(),
                        integrity.verified() ? "verified" : "FAILED");
    }
}

package io.umdev.virtio.transport;

import io.umdev.virtio.ring.QueueCounters;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A snapshot of one queue's counters, read without locking (values may be a few operations old).
 *
 * @param requests buffers completed (requests for blk, packets for net)
 * @param bytes bytes the device read from and wrote to those buffers
 * @param errors requests that failed, plus ring faults
 * @param drops data the device dropped (no buffer, queue not ready)
 * @param kicks doorbells received
 * @param interrupts interrupts sent to the driver
 * @param suppressedInterrupts interrupts the driver's event index or flags suppressed
 */
public record QueueStatistics(long requests, long bytes, long errors, long drops, long kicks, long interrupts,
        long suppressedInterrupts) {
    public static QueueStatistics of(QueueCounters c) {
        return new QueueStatistics(c.requests(), c.bytes(), c.errors(), c.drops(), c.kicks(), c.interrupts(),
                c.suppressedInterrupts());
    }

    /** Name to value, in display order, prefixed (e.g. {@code q0.}) for {@code MdevDevice.statistics()}. */
    public Map<String, Long> asMap(String prefix) {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put(prefix + "requests", requests);
        m.put(prefix + "bytes", bytes);
        m.put(prefix + "errors", errors);
        m.put(prefix + "drops", drops);
        m.put(prefix + "kicks", kicks);
        m.put(prefix + "interrupts", interrupts);
        m.put(prefix + "suppressed_interrupts", suppressedInterrupts);
        return m;
    }
}

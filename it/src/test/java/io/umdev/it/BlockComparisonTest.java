package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Medians across rounds, the two ratio columns (medians of the rounds' ratios) and the per-round spread. */
class BlockComparisonTest {

    private static final Duration CPU = Duration.ofSeconds(30);
    private static final Duration WALL = Duration.ofSeconds(60);

    /** A round whose sequential read is {@code seqRead} MB/s and random read p50 {@code p50} µs. */
    private static BlockReport round(double seqRead, double p50) {
        Latency latency = new Latency(p50, p50, p50, p50, p50);
        return new BlockReport(new BlockDevice("vda", 1, 512, Optional.empty(), Optional.empty()),
                new SequentialIo("vda", IoDirection.WRITE, 1, 1, 1, 1),
                new SequentialIo("vda", IoDirection.READ, 1, 1, 1, seqRead),
                new RandomIo("vda", IoDirection.WRITE, 1, 1, 1, 1, latency),
                new RandomIo("vda", IoDirection.READ, 1, 1, 1, 1, latency),
                new BlockIntegrity("vda", 0, 1, 0, 0, 0, 0, true));
    }

    private static BlockComparison comparison() {
        return new BlockComparison(Accel.TCG,
                List.of(round(900, 100), round(300, 400), round(600, 200)),
                List.of(round(200, 800), round(400, 400), round(300, 400)),
                List.of(round(600, 100), round(1000, 200), round(500, 300)), 0, CPU, WALL);
    }

    @Test
    void comparesTheMedianOfEachFigureAcrossRounds() {
        BlockComparison.Row seqRead = comparison().rows().getFirst();

        // Rounds: polled 900/600, 300/1000, 600/500 = 1.5, 0.3, 1.2; not polled 1/3, 0.4, 0.6.
        assertEquals(new BlockComparison.Row("sequential read 1 MiB QD1", "MB/s", 600, 300, 600, 1.2, 0.4), seqRead);
        assertEquals(1.2, comparison().sequentialReadRatio(), "the median round, not the ratio of the medians (1.0)");
    }

    @Test
    void latencyRatiosAreQemuOverUmdevSoAboveOneIsUmdevAhead() {
        BlockComparison.Row p50 = comparison().rows().stream().filter(r -> r.figure().equals("random read p50"))
                .findFirst().orElseThrow();

        assertEquals(200, p50.polled());
        // Rounds: QEMU 100/800, 200/400, 300/400 for not polled; 100/100, 200/400, 300/200 for polled.
        assertEquals(0.5, p50.notifiedRatio());
        assertEquals(1.0, p50.polledRatio());
    }

    @Test
    void tableShowsEveryRoundsSequentialReadRatioAndTheDaemonsCpuTime() {
        BlockComparison comparison = comparison();

        assertEquals(List.of(1.5, 0.3, 1.2), comparison.sequentialReadRatiosByRound(comparison.polled()));
        assertEquals(0.5, comparison.daemonCpus());
        String table = comparison.table();
        assertTrue(table.contains("polled 1.50x, 0.30x, 1.20x"), table);
        assertTrue(table.contains("30.0 s in 60.0 s wall, 0.50 CPUs"), table);
        assertTrue(table.contains("median of 3 rounds"), table);
    }

    @Test
    void medianOfAnEvenCountIsTheMeanOfTheMiddleTwo() {
        assertEquals(450, BlockComparison.median(List.of(round(900, 1), round(300, 1), round(600, 1), round(100, 1)),
                r -> r.sequentialRead().mbPerSecond()));
    }

    @Test
    void refusesRoundsThatDoNotPairUp() {
        assertThrows(IllegalArgumentException.class, () -> new BlockComparison(Accel.TCG, List.of(round(1, 1)),
                List.of(round(1, 1)), List.of(round(1, 1), round(1, 1)), 0, CPU, WALL));
    }

    @Test
    void warmUpRoundsAreShownButLeftOutOfTheMedians() {
        BlockComparison comparison = new BlockComparison(Accel.TCG,
                List.of(round(100, 900), round(900, 100), round(300, 400), round(600, 200)),
                List.of(round(100, 900), round(200, 800), round(400, 400), round(300, 400)),
                List.of(round(1000, 100), round(600, 100), round(1000, 200), round(500, 300)), 1, CPU, WALL);

        assertEquals(1.2, comparison.sequentialReadRatio());
        assertEquals(600, comparison.rows().getFirst().polled());
        String table = comparison.table();
        assertTrue(table.contains("median of 3 rounds"), table);
        assertTrue(table.contains("(the first 1 warm-up): polled 0.10x, 1.50x, 0.30x, 1.20x"), table);
        assertThrows(IllegalArgumentException.class, () -> new BlockComparison(Accel.TCG, List.of(round(1, 1)),
                List.of(round(1, 1)), List.of(round(1, 1)), 1, CPU, WALL));
    }
}

package io.umdev.virtio.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Waits for another thread's effect; the deadline only bounds a hung test, it asserts nothing about speed. */
public final class Await {
    private static final long DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(20);

    private Await() {
    }

    public static void until(String what, BooleanSupplier condition) {
        long start = System.nanoTime();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - start > DEADLINE_NANOS) {
                fail("gave up waiting for: " + what);
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    /** Gives another thread a chance to act (used before asserting something did not happen). */
    public static void settle() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

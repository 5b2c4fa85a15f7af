package io.umdev.linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * CPU placement of the calling thread (sched_setaffinity). Benchmarks pin both ends of a round trip
 * to one CPU to measure the stack without cross-CPU wake-ups; threads a pinned thread starts inherit
 * its mask.
 */
public final class CpuAffinity {
    /** Room for 1024 CPUs, glibc's cpu_set_t. */
    private static final int MASK_WORDS = 16;

    private CpuAffinity() {
    }

    /** Restricts the calling thread to the given CPUs. */
    public static void setCurrentThread(int... cpus) throws LinuxException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(JAVA_LONG, MASK_WORDS);
            for (int cpu : cpus) {
                if (cpu < 0 || cpu >= MASK_WORDS * Long.SIZE) {
                    throw new LinuxException("sched_setaffinity", Errno.EINVAL);
                }
                long word = mask.getAtIndex(JAVA_LONG, cpu / Long.SIZE);
                mask.setAtIndex(JAVA_LONG, cpu / Long.SIZE, word | (1L << (cpu % Long.SIZE)));
            }
            LibC.schedSetaffinity(mask.byteSize(), mask);
        }
    }

    /** The CPU the calling thread runs on right now. */
    public static int currentCpu() throws LinuxException {
        return LibC.schedGetcpu();
    }
}

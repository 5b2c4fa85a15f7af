package io.umdev.virtio.driver;

/**
 * Plans the driver's memory before it exists: each reservation gets an aligned offset, and the total
 * decides the size of the one memfd that backs them all. Control path only.
 */
final class MemoryPlan {
    private long next;

    /** Reserves {@code size} bytes at an offset that is a multiple of {@code alignment} (a power of two). */
    long reserve(long size, long alignment) {
        if (size < 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("bad reservation: size " + size + ", alignment " + alignment);
        }
        long offset = (next + alignment - 1) & -alignment;
        next = Math.addExact(offset, size);
        return offset;
    }

    /** Bytes reserved so far, including alignment padding. */
    long size() {
        return next;
    }
}

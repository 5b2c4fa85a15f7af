package io.umdev.vfiouser.client;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The client's own view of what it mapped for the server, so it can answer DMA_READ and DMA_WRITE.
 * Each access must fall wholly inside one range and respect its permission.
 */
final class ClientMemory {
    /** One mapped range and the local memory behind it. */
    record Range(long iova, MemorySegment memory, boolean readable, boolean writable) {
    }

    private final ConcurrentSkipListMap<Long, Range> ranges = new ConcurrentSkipListMap<>(Long::compareUnsigned);

    void add(long iova, MemorySegment memory, boolean readable, boolean writable) {
        ranges.put(iova, new Range(iova, memory, readable, writable));
    }

    void remove(long iova) {
        ranges.remove(iova);
    }

    void clear() {
        ranges.clear();
    }

    /** Local memory for [address, address+length) if one range holds it with the permission, else null. */
    MemorySegment find(long address, long length, boolean write) {
        Map.Entry<Long, Range> e = ranges.floorEntry(address);
        if (e == null) {
            return null;
        }
        Range r = e.getValue();
        long offset = address - r.iova();
        long size = r.memory().byteSize();
        if (Long.compareUnsigned(offset, size) >= 0 || Long.compareUnsigned(length, size - offset) > 0) {
            return null;
        }
        if (write ? !r.writable() : !r.readable()) {
            return null;
        }
        return r.memory().asSlice(offset, length);
    }
}

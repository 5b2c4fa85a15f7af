package io.umdev.virtio.ring;

import io.umdev.virtio.testing.GuestMemory;
import io.umdev.vfiouser.dma.DmaTable;
import java.util.ArrayList;
import java.util.List;

/** A real DmaTable over real memfd memory, and engines over it whose faults are collected. */
final class RingFixture implements AutoCloseable {
    static final long IOVA = 0x100000;
    static final long SIZE = 4 << 20;
    static final long RINGS = IOVA;
    static final long BUFFERS = IOVA + (1 << 20);

    final DmaTable table = new DmaTable(16);
    final GuestMemory memory;
    final List<String> faults = new ArrayList<>();

    RingFixture() throws Exception {
        memory = GuestMemory.map(table, IOVA, SIZE);
    }

    Virtqueue queue(boolean packed, int index, int maxSize) {
        return Virtqueue.create(packed, index, maxSize, new QueueCounters(), (q, reason) -> faults.add(reason));
    }

    @Override
    public void close() {
        memory.close();
        table.close();
    }
}

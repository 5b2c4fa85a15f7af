package io.umdev.virtio.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class QueueStateTest {
    @Test
    void packedStateRoundTripsThroughVhostOffWrapHalves() {
        PackedQueueState s = new PackedQueueState(17, false, 3, true);
        assertEquals(17, s.availOffWrap());
        assertEquals(0x8003, s.usedOffWrap());
        assertEquals(s, PackedQueueState.fromOffWrap(s.availOffWrap(), s.usedOffWrap()));
        assertEquals(new PackedQueueState(0, true, 0, true), PackedQueueState.initial());
    }

    @Test
    void rejectsIndexesOutOfRange() {
        assertThrows(IllegalArgumentException.class, () -> new SplitQueueState(65536));
        assertThrows(IllegalArgumentException.class, () -> new PackedQueueState(32768, true, 0, true));
    }
}

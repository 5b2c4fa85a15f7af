package io.umdev.simnet.l2;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class FrameMailboxTest {
    private static MemorySegment bytes(int length, int seed) {
        return Frames.frame(0x02_00_00_00_00_01L, 0x02_00_00_00_00_02L, length, seed);
    }

    @Test
    void deliversFramesInOrderWithTheirLengths() {
        FrameMailbox box = new FrameMailbox(8, 128);
        for (int i = 0; i < 5; i++) {
            assertTrue(box.offer(bytes(60 + i, i), 0, 60 + i));
        }
        assertEquals(5, box.size());
        for (int i = 0; i < 5; i++) {
            assertEquals(60 + i, box.peekLength());
            MemorySegment expected = bytes(60 + i, i);
            assertEquals(-1, expected.mismatch(box.buffers().asSlice(box.peekOffset(), 60 + i)));
            box.release();
        }
        assertEquals(-1, box.peekLength());
    }

    @Test
    void refusesFramesWhenFullAndAcceptsAgainAfterRelease() {
        FrameMailbox box = new FrameMailbox(4, 64);
        for (int i = 0; i < 4; i++) {
            assertTrue(box.offer(bytes(64, i), 0, 64));
        }
        assertFalse(box.offer(bytes(64, 9), 0, 64));
        box.release();
        assertTrue(box.offer(bytes(64, 9), 0, 64));
        assertEquals(4, box.clear());
        assertEquals(0, box.size());
    }

    @Test
    void refusesAFrameLargerThanASlot() {
        FrameMailbox box = new FrameMailbox(4, 64);
        assertFalse(box.offer(bytes(65, 0), 0, 65));
        assertEquals(-1, box.peekLength());
    }

    @Test
    void rejectsACapacityThatIsNotAPowerOfTwo() {
        assertThrows(IllegalArgumentException.class, () -> new FrameMailbox(6, 64));
    }

    @Test
    void concurrentSendersNeitherLoseNorDuplicateAcceptedFrames() throws Exception {
        FrameMailbox box = new FrameMailbox(64, 32);
        int senders = 4;
        int perSender = 20_000;
        AtomicInteger accepted = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int s = 0; s < senders; s++) {
            int sender = s;
            threads.add(Thread.ofPlatform().start(() -> {
                MemorySegment frame = MemorySegment.ofArray(new byte[32]);
                for (int i = 0; i < perSender; i++) {
                    frame.set(JAVA_INT_UNALIGNED, 0, sender * perSender + i);
                    if (box.offer(frame, 0, 32)) {
                        accepted.incrementAndGet();
                    }
                }
            }));
        }
        Set<Integer> seen = new HashSet<>();
        int received = 0;
        while (threads.stream().anyMatch(Thread::isAlive) || box.peekLength() >= 0) {
            if (box.peekLength() >= 0) {
                int value = box.buffers().get(JAVA_INT_UNALIGNED, box.peekOffset());
                assertTrue(seen.add(value), "frame " + value + " received twice");
                box.release();
                received++;
            } else {
                Thread.onSpinWait();
            }
        }
        for (Thread t : threads) {
            t.join();
        }
        while (box.peekLength() >= 0) {
            assertTrue(seen.add(box.buffers().get(JAVA_INT_UNALIGNED, box.peekOffset())));
            box.release();
            received++;
        }
        assertEquals(accepted.get(), received);
    }
}

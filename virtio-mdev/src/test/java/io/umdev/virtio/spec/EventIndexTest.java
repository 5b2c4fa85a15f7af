package io.umdev.virtio.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class EventIndexTest {
    /** The rule by its definition: some index in [old, new) equals the event index, mod 2^16. */
    private static boolean crossesByEnumeration(int event, int newIdx, int oldIdx) {
        for (int i = oldIdx; (i & 0xFFFF) != (newIdx & 0xFFFF); i++) {
            if ((i & 0xFFFF) == (event & 0xFFFF)) {
                return true;
            }
        }
        return false;
    }

    @Test
    void signalsExactlyWhenTheEventIndexLiesInTheMovedRange() {
        assertTrue(EventIndex.needEvent(0, 1, 0));
        assertFalse(EventIndex.needEvent(1, 1, 0), "event at the new index is not yet passed");
        assertTrue(EventIndex.needEvent(4, 10, 0));
        assertFalse(EventIndex.needEvent(10, 10, 0));
        assertFalse(EventIndex.needEvent(5, 5, 5), "nothing moved");
        assertFalse(EventIndex.needEvent(3, 10, 5), "event behind the range");
    }

    @Test
    void wrapsAroundSixteenBits() {
        assertTrue(EventIndex.needEvent(0xFFFF, 0x0001, 0xFFFE));
        assertTrue(EventIndex.needEvent(0x0000, 0x0001, 0xFFFE));
        assertFalse(EventIndex.needEvent(0x0001, 0x0001, 0xFFFE));
        assertFalse(EventIndex.needEvent(0xFFFD, 0x0001, 0xFFFE));
        // Values above 16 bits are taken mod 2^16.
        assertTrue(EventIndex.needEvent(0x1FFFF, 0x10001, 0xFFFE));
    }

    @Test
    void agreesWithEnumerationOverAWindowAroundTheWrap() {
        int[] olds = {0, 1, 100, 0xFF00, 0xFFF0, 0xFFFF};
        for (int old : olds) {
            for (int moved = 0; moved <= 40; moved++) {
                int newIdx = (old + moved) & 0xFFFF;
                for (int d = -50; d <= 50; d++) {
                    int event = (old + d) & 0xFFFF;
                    assertEquals(crossesByEnumeration(event, newIdx, old), EventIndex.needEvent(event, newIdx, old),
                            () -> "event " + event + " new " + newIdx + " old " + old);
                }
            }
        }
    }
}

package io.umdev.virtio.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class RingLayoutTest {
    @Test
    void splitAreaSizesFollowTheSpec() {
        assertEquals(16 * 256, SplitRing.descTableSize(256));
        assertEquals(6 + 2 * 256, SplitRing.availSize(256));
        assertEquals(6 + 8 * 256, SplitRing.usedSize(256));
        assertEquals(4 + 2 * 256, SplitRing.usedEventOffset(256));
        assertEquals(4 + 8 * 256, SplitRing.availEventOffset(256));
    }

    @Test
    void splitSizesArePowersOfTwoUpTo32768() {
        assertTrue(SplitRing.validSize(1));
        assertTrue(SplitRing.validSize(32768));
        assertFalse(SplitRing.validSize(0));
        assertFalse(SplitRing.validSize(48));
        assertFalse(SplitRing.validSize(65536));
    }

    @Test
    void packedSizesNeedNotBePowersOfTwo() {
        assertTrue(PackedRing.validSize(48));
        assertFalse(PackedRing.validSize(32769));
    }

    @Test
    void packedAvailabilityDependsOnTheWrapCounter() {
        int avail1 = PackedRing.DESC_F_AVAIL;
        int used1 = PackedRing.DESC_F_AVAIL | PackedRing.DESC_F_USED;
        assertTrue(PackedRing.isAvailable(avail1, true));
        assertFalse(PackedRing.isAvailable(avail1, false));
        assertTrue(PackedRing.isAvailable(PackedRing.DESC_F_USED, false), "second lap: AVAIL=0, USED=1");
        assertTrue(PackedRing.isUsed(used1, true));
        assertTrue(PackedRing.isUsed(0, false));
        assertFalse(PackedRing.isAvailable(used1, true));
        assertEquals(0x8005, PackedRing.offWrap(5, true));
    }

    @Test
    void featureMasksAndDescriptionsUseBitNumbers() {
        long f = VirtioFeature.bits(VirtioFeature.VERSION_1, NetSpec.F_MAC);
        assertEquals((1L << 32) | (1L << 5), f);
        assertTrue(VirtioFeature.has(f, VirtioFeature.VERSION_1));
        assertEquals("0x100000020(5,32)", VirtioFeature.describe(f));
        assertEquals("ACKNOWLEDGE|DRIVER|FEATURES_OK", DeviceStatus.describe(11));
    }
}

package io.umdev.it;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The guest's pseudo-random patterns, regenerated on the host: umdev-probe's xorshift64* stream (little-endian
 * 64-bit words) and the numbered blocks of its blk-acked workload. Change both sides together.
 */
final class GuestPattern {

    /** Bytes of one numbered block. */
    static final int ACKED_BLOCK_BYTES = 4096;
    /** "UMDEVACK", the first eight bytes of a numbered block, read as a little-endian word. */
    static final long ACK_MAGIC = 0x4b43415645444d55L;
    /** "UMDEVBOT", the boot-count block's magic. */
    static final long BOOT_MAGIC = 0x544f425645444d55L;
    private static final int ACK_HEADER = 16;
    private static final long ACK_SEQ_MIX = 0x9E3779B97F4A7C15L;
    private static final long XORSHIFT_MULTIPLIER = 0x2545F4914F6CDD1DL;
    private static final int SHIFT_A = 12;
    private static final int SHIFT_B = 25;
    private static final int SHIFT_C = 27;

    private long state;

    private GuestPattern(long seed) {
        this.state = seed;
    }

    private long next() {
        long x = state;
        x ^= x >>> SHIFT_A;
        x ^= x << SHIFT_B;
        x ^= x >>> SHIFT_C;
        state = x;
        return x * XORSHIFT_MULTIPLIER;
    }

    private void fill(ByteBuffer into) {
        while (into.remaining() >= Long.BYTES) {
            into.putLong(next());
        }
    }

    /** The block the guest writes for sequence number {@code seq} under {@code seed}. */
    static byte[] ackedBlock(long seed, long seq) {
        ByteBuffer block = ByteBuffer.allocate(ACKED_BLOCK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        block.putLong(ACK_MAGIC).putLong(seq);
        new GuestPattern(seed ^ (seq * ACK_SEQ_MIX)).fill(block.position(ACK_HEADER));
        return block.array();
    }
}

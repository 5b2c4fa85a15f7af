package io.umdev.virtio.driver;

import static io.umdev.virtio.spec.BlkSpec.REQ_HDR_SIZE;
import static io.umdev.virtio.spec.BlkSpec.REQ_IOPRIO;
import static io.umdev.virtio.spec.BlkSpec.REQ_SECTOR;
import static io.umdev.virtio.spec.BlkSpec.REQ_STATUS_SIZE;
import static io.umdev.virtio.spec.BlkSpec.REQ_TYPE;
import static io.umdev.virtio.spec.BlkSpec.SECTOR_SIZE;

import io.umdev.linux.Errno;
import io.umdev.virtio.spec.BlkSpec;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * One virtio-blk request queue, asynchronous: submit requests (each names a caller cookie), {@link #kick}
 * once per batch, then {@link #complete} hands every finished request to a {@link BlockCompletion}.
 * Several requests are in flight at once, up to {@link #slots()}.
 *
 * <p>Each request has a slot in the driver's memory: its header, its status byte and a bounce buffer of
 * {@link VirtioBlockDisk#maxTransfer()} bytes. Writes copy the caller's data in at submit; reads copy it
 * out at completion, into the segment given at submit (which must stay valid until then). One thread at
 * a time; nothing here locks or allocates.
 */
public final class BlockQueue {
    /** Header and status of one slot, rounded up to keep slots on separate cache lines' worth of room. */
    static final int SLOT_HEADER_STRIDE = 32;
    /** The driver writes this before the device answers, so a status the device never wrote shows. */
    private static final int STATUS_UNWRITTEN = 0xFF;
    /** Segments of the longest request: header, data, status. */
    private static final int MAX_REQUEST_SEGMENTS = 3;

    private final VirtioBlockDisk disk;
    private final DriverQueue queue;
    private final DriverMemory memory;
    private final MemorySegment mem;
    private final long headers;
    private final long data;
    private final int maxTransfer;
    private final int slots;
    private final int[] freeSlots;
    private int freeCount;
    private final long[] cookies;
    private final MemorySegment[] readTargets;
    private final BufferChain chain = new BufferChain(MAX_REQUEST_SEGMENTS);

    BlockQueue(VirtioBlockDisk disk, DriverQueue queue, DriverMemory memory, long headers, long data, int maxTransfer,
            int slots) {
        this.disk = disk;
        this.queue = queue;
        this.memory = memory;
        this.mem = memory.segment();
        this.headers = headers;
        this.data = data;
        this.maxTransfer = maxTransfer;
        this.slots = slots;
        this.freeSlots = new int[slots];
        for (int i = 0; i < slots; i++) {
            freeSlots[i] = slots - 1 - i;
        }
        this.freeCount = slots;
        this.cookies = new long[slots];
        this.readTargets = new MemorySegment[slots];
    }

    /** The virtqueue underneath (for its counters and interrupt control). */
    public DriverQueue virtqueue() {
        return queue;
    }

    /** How many requests may be in flight at once. */
    public int slots() {
        return slots;
    }

    /** Requests submitted and not yet completed. */
    public int inFlight() {
        return slots - freeCount;
    }

    /** True if a request can be submitted now. */
    public boolean canSubmit() {
        return freeCount > 0 && queue.canAdd(MAX_REQUEST_SEGMENTS);
    }

    /** Reads {@code dst.byteSize()} bytes (whole sectors, at most maxTransfer) from {@code sector} into {@code dst}. */
    public boolean submitRead(long sector, MemorySegment dst, long cookie) {
        checkTransfer(dst);
        return submit(BlkSpec.T_IN, sector, null, dst, (int) dst.byteSize(), cookie);
    }

    /** Writes {@code src} (whole sectors, at most maxTransfer) at {@code sector}. */
    public boolean submitWrite(long sector, MemorySegment src, long cookie) {
        checkTransfer(src);
        disk.checkWritable();
        return submit(BlkSpec.T_OUT, sector, src, null, (int) src.byteSize(), cookie);
    }

    /** Asks the device to make every completed write durable. */
    public boolean submitFlush(long cookie) {
        disk.checkFeature(BlkSpec.F_FLUSH, "flush");
        return submit(BlkSpec.T_FLUSH, 0, null, null, 0, cookie);
    }

    /** Discards {@code count} sectors from {@code sector}. */
    public boolean submitDiscard(long sector, long count, long cookie) {
        disk.checkFeature(BlkSpec.F_DISCARD, "discard");
        disk.checkWritable();
        return submitRange(BlkSpec.T_DISCARD, sector, count, 0, cookie);
    }

    /** Zeroes {@code count} sectors from {@code sector}, letting the device unmap them if {@code unmap}. */
    public boolean submitWriteZeroes(long sector, long count, boolean unmap, long cookie) {
        disk.checkFeature(BlkSpec.F_WRITE_ZEROES, "write zeroes");
        disk.checkWritable();
        return submitRange(BlkSpec.T_WRITE_ZEROES, sector, count, unmap ? BlkSpec.SEG_F_UNMAP : 0, cookie);
    }

    /** Reads the device's ID string ({@link BlkSpec#ID_BYTES} bytes) into {@code dst}. */
    public boolean submitGetId(MemorySegment dst, long cookie) {
        if (dst.byteSize() != BlkSpec.ID_BYTES) {
            throw new IllegalArgumentException("the ID buffer holds " + BlkSpec.ID_BYTES + " bytes, not " + dst.byteSize());
        }
        return submit(BlkSpec.T_GET_ID, 0, null, dst, BlkSpec.ID_BYTES, cookie);
    }

    private boolean submitRange(int type, long sector, long count, int flags, long cookie) {
        if (count <= 0 || count > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("a range covers 1 to 2^32-1 sectors: " + count);
        }
        if (freeCount == 0) {
            return false;
        }
        // The range segment goes through the slot's bounce buffer, like write data.
        long at = data + (long) freeSlots[freeCount - 1] * maxTransfer;
        Le.u64(mem, at + BlkSpec.SEG_SECTOR, sector);
        Le.u32(mem, at + BlkSpec.SEG_NUM_SECTORS, count);
        Le.u32(mem, at + BlkSpec.SEG_FLAGS, flags);
        return submit(type, sector, null, null, -BlkSpec.SEG_SIZE, cookie);
    }

    private void checkTransfer(MemorySegment buffer) {
        long length = buffer.byteSize();
        if (length <= 0 || length % SECTOR_SIZE != 0 || length > maxTransfer) {
            throw new IllegalArgumentException("a request moves whole " + SECTOR_SIZE + "-byte sectors, at most "
                    + maxTransfer + " bytes: " + length);
        }
    }

    /**
     * @param length bytes of data the device writes (reads, GET_ID) or reads; negative: that many
     *     device-readable bytes already in the bounce buffer (range requests)
     */
    private boolean submit(int type, long sector, MemorySegment src, MemorySegment dst, int length, long cookie) {
        if (freeCount == 0) {
            return false;
        }
        int slot = freeSlots[freeCount - 1];
        long header = headers + (long) slot * SLOT_HEADER_STRIDE;
        long status = header + REQ_HDR_SIZE;
        long buffer = data + (long) slot * maxTransfer;
        Le.u32(mem, header + REQ_TYPE, type);
        Le.u32(mem, header + REQ_IOPRIO, 0);
        Le.u64(mem, header + REQ_SECTOR, sector);
        Le.u8(mem, status, STATUS_UNWRITTEN);
        chain.clear().readable(memory.iovaOf(header), REQ_HDR_SIZE);
        if (src != null) {
            MemorySegment.copy(src, 0, mem, buffer, length);
            chain.readable(memory.iovaOf(buffer), length);
        } else if (length < 0) {
            chain.readable(memory.iovaOf(buffer), -length);
        } else if (length > 0) {
            chain.writable(memory.iovaOf(buffer), length);
        }
        chain.writable(memory.iovaOf(status), REQ_STATUS_SIZE);
        if (!queue.add(chain, slot)) {
            return false;
        }
        freeCount--;
        cookies[slot] = cookie;
        readTargets[slot] = dst;
        return true;
    }

    /** Tells the device about the requests submitted since the last kick (if it wants to be told). */
    public void kick() {
        queue.kick();
    }

    /**
     * Hands every finished request to {@code handler}, in the order the device finished them.
     *
     * @return how many completed
     */
    public int complete(BlockCompletion handler) {
        int done = 0;
        int slot;
        while ((slot = queue.poll()) != DriverQueue.NONE) {
            long header = headers + (long) slot * SLOT_HEADER_STRIDE;
            int status = Le.u8(mem, header + REQ_HDR_SIZE);
            MemorySegment target = readTargets[slot];
            if (target != null) {
                if (status == BlkSpec.S_OK) {
                    MemorySegment.copy(mem, data + (long) slot * maxTransfer, target, 0, target.byteSize());
                }
                readTargets[slot] = null;
            }
            freeSlots[freeCount++] = slot;
            done++;
            handler.completed(cookies[slot], status);
        }
        return done;
    }

    /**
     * Waits until a request has finished (or the timeout passes).
     *
     * @throws VirtioDriverException if the device needs a reset or broke the ring protocol
     */
    public boolean await(long timeout, TimeUnit unit) throws VirtioDriverException {
        if (inFlight() == 0) {
            throw new VirtioDriverException(Errno.EINVAL, "waiting on queue " + queue.index()
                    + " with no request in flight");
        }
        return queue.await(timeout, unit);
    }
}

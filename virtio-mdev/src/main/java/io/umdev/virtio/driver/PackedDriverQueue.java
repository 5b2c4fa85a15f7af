package io.umdev.virtio.driver;

import static io.umdev.virtio.spec.PackedRing.DESC_ADDR;
import static io.umdev.virtio.spec.PackedRing.DESC_FLAGS;
import static io.umdev.virtio.spec.PackedRing.DESC_F_AVAIL;
import static io.umdev.virtio.spec.PackedRing.DESC_F_INDIRECT;
import static io.umdev.virtio.spec.PackedRing.DESC_F_NEXT;
import static io.umdev.virtio.spec.PackedRing.DESC_F_USED;
import static io.umdev.virtio.spec.PackedRing.DESC_F_WRITE;
import static io.umdev.virtio.spec.PackedRing.DESC_ID;
import static io.umdev.virtio.spec.PackedRing.DESC_LEN;
import static io.umdev.virtio.spec.PackedRing.DESC_SIZE;
import static io.umdev.virtio.spec.PackedRing.EVENT_FLAGS;
import static io.umdev.virtio.spec.PackedRing.EVENT_FLAGS_DESC;
import static io.umdev.virtio.spec.PackedRing.EVENT_FLAGS_DISABLE;
import static io.umdev.virtio.spec.PackedRing.EVENT_FLAGS_ENABLE;
import static io.umdev.virtio.spec.PackedRing.EVENT_OFFSET_MASK;
import static io.umdev.virtio.spec.PackedRing.EVENT_OFF_WRAP;
import static io.umdev.virtio.spec.PackedRing.EVENT_WRAP_BIT;

import io.umdev.linux.EventFd;
import io.umdev.virtio.spec.EventIndex;
import io.umdev.virtio.spec.PackedRing;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.invoke.VarHandle;

/**
 * The driver side of a packed virtqueue (virtio 2.8): one descriptor ring both sides write, the
 * driver's event suppression structure (driver area) and the device's (device area). Buffer IDs come
 * from a free stack in the driver's own arrays; how many ring slots each buffer took is remembered
 * here, never read back from the device.
 */
final class PackedDriverQueue extends DriverQueue {
    private static final int INDEX_MASK = 0xFFFF;

    private final long ring;
    private final long driverEvent;
    private final long deviceEvent;
    private final int[] freeIds;
    /** Ring slots each buffer ID took (1 for an indirect buffer). */
    private final int[] chainLength;
    private int freeIdCount;
    private int numFree;
    private int nextAvail;
    private boolean availWrap = PackedRing.INITIAL_WRAP_COUNTER;
    private int lastUsed;
    private boolean usedWrap = PackedRing.INITIAL_WRAP_COUNTER;
    /** Ring slots made available since the last kick decision. */
    private int addedSinceKick;

    /** Where a packed queue's areas lie in the driver memory. */
    record Areas(long ring, long driverEvent, long deviceEvent, long indirect) {
    }

    static Areas plan(MemoryPlan plan, int size, int indirectEntries) {
        long ring = plan.reserve(PackedRing.ringSize(size), Math.max(PackedRing.DESC_ALIGN, AREA_ALIGNMENT));
        long driver = plan.reserve(PackedRing.EVENT_SIZE, Math.max(PackedRing.EVENT_ALIGN, AREA_ALIGNMENT));
        long device = plan.reserve(PackedRing.EVENT_SIZE, Math.max(PackedRing.EVENT_ALIGN, AREA_ALIGNMENT));
        long indirect = indirectEntries == 0 ? 0
                : plan.reserve((long) size * indirectEntries * DESC_SIZE, PackedRing.DESC_ALIGN);
        return new Areas(ring, driver, device, indirect);
    }

    PackedDriverQueue(VirtioDevice device, int index, int size, DriverMemory memory, Areas areas, boolean eventIndex,
            int indirectEntries, InterruptMode mode, EventFd interruptFd) {
        super(device, index, size, memory, eventIndex, areas.indirect(), indirectEntries, mode, interruptFd);
        if (!PackedRing.validSize(size)) {
            throw new IllegalArgumentException("a packed ring's size is 1 to " + PackedRing.MAX_SIZE + ": " + size);
        }
        this.ring = areas.ring();
        this.driverEvent = areas.driverEvent();
        this.deviceEvent = areas.deviceEvent();
        this.freeIds = new int[size];
        this.chainLength = new int[size];
        for (int i = 0; i < size; i++) {
            freeIds[i] = size - 1 - i;
        }
        freeIdCount = size;
        numFree = size;
        applyInterruptMode();
    }

    @Override
    int usedPosition() {
        return PackedRing.offWrap(lastUsed, usedWrap);
    }

    @Override
    long usedAreaOffset() {
        return ring;
    }

    @Override
    public boolean packed() {
        return true;
    }

    @Override
    public int freeDescriptors() {
        return numFree;
    }

    @Override
    public int inFlightCount() {
        return size - freeIdCount;
    }

    @Override
    boolean addChain(BufferChain chain, int token) {
        int segments = chain.count();
        boolean indirect = useIndirect(segments);
        int needed = indirect ? 1 : segments;
        if (numFree < needed || freeIdCount == 0) {
            return false;
        }
        int id = freeIds[--freeIdCount];
        int head = nextAvail;
        int headFlags;
        if (indirect) {
            long table = indirectOffset + (long) id * indirectEntries * DESC_SIZE;
            for (int i = 0; i < segments; i++) {
                long at = table + (long) i * DESC_SIZE;
                Le.u64(memory, at + DESC_ADDR, chain.iova(i));
                Le.u32(memory, at + DESC_LEN, chain.length(i));
                Le.u16(memory, at + DESC_ID, 0);
                Le.u16(memory, at + DESC_FLAGS, chain.isWritable(i) ? DESC_F_WRITE : 0);
            }
            headFlags = DESC_F_INDIRECT | wrapBits();
            writeDesc(head, memoryIova + table, segments * DESC_SIZE, id);
            advance();
        } else {
            headFlags = 0;
            for (int i = 0; i < segments; i++) {
                int flags = (chain.isWritable(i) ? DESC_F_WRITE : 0) | (i + 1 < segments ? DESC_F_NEXT : 0)
                        | wrapBits();
                writeDesc(nextAvail, chain.iova(i), chain.length(i), id);
                if (i == 0) {
                    headFlags = flags;
                } else {
                    Le.u16(memory, ring + (long) nextAvail * DESC_SIZE + DESC_FLAGS, flags);
                }
                advance();
            }
        }
        numFree -= needed;
        addedSinceKick += needed;
        chainLength[id] = needed;
        tokens[id] = token;
        writableBytes[id] = chain.writableBytes();
        inFlightIds[id] = true;
        // Everything else in the chain before the head's flags, which hand the whole chain over.
        VarHandle.releaseFence();
        Le.u16(memory, ring + (long) head * DESC_SIZE + DESC_FLAGS, headFlags);
        return true;
    }

    /** AVAIL and USED as the driver marks an available descriptor in the current lap. */
    private int wrapBits() {
        return availWrap ? DESC_F_AVAIL : DESC_F_USED;
    }

    private void writeDesc(int slot, long addr, int len, int id) {
        long at = ring + (long) slot * DESC_SIZE;
        Le.u64(memory, at + DESC_ADDR, addr);
        Le.u32(memory, at + DESC_LEN, len);
        Le.u16(memory, at + DESC_ID, id);
    }

    private void advance() {
        if (++nextAvail == size) {
            nextAvail = 0;
            availWrap = !availWrap;
        }
    }

    @Override
    boolean hasUnnotified() {
        return addedSinceKick != 0;
    }

    @Override
    boolean needsKickNow() {
        int added = addedSinceKick;
        addedSinceKick = 0;
        if (added == 0) {
            return false;
        }
        // The new descriptors must be visible before the device's wishes are read, or both sides sleep.
        VarHandle.fullFence();
        // One 32-bit read so off_wrap and flags come from the same device write.
        long event = Le.u32(memory, deviceEvent);
        int flags = (int) (event >>> (Byte.SIZE * EVENT_FLAGS)) & INDEX_MASK;
        int offWrap = (int) (event >>> (Byte.SIZE * EVENT_OFF_WRAP)) & INDEX_MASK;
        if (flags != EVENT_FLAGS_DESC) {
            return flags != EVENT_FLAGS_DISABLE;
        }
        int eventIdx = offWrap & EVENT_OFFSET_MASK;
        boolean eventWrap = (offWrap >>> EVENT_WRAP_BIT) != 0;
        // An index in the previous lap lies 'size' behind the same number in this one.
        if (eventWrap != availWrap) {
            eventIdx -= size;
        }
        int now = nextAvail;
        return EventIndex.needEvent(eventIdx & INDEX_MASK, now, (now - added) & INDEX_MASK);
    }

    @Override
    int pollUsed() {
        long at = ring + (long) lastUsed * DESC_SIZE;
        int flags = Le.u16(memory, at + DESC_FLAGS);
        if (!PackedRing.isUsed(flags, usedWrap)) {
            return NONE;
        }
        // The id and length the device wrote before it flipped the flags.
        VarHandle.acquireFence();
        int id = Le.u16(memory, at + DESC_ID);
        long length = Le.u32(memory, at + DESC_LEN);
        if (!acceptUsed(id, length)) {
            return NONE;
        }
        lastUsed += chainLength[id];
        if (lastUsed >= size) {
            lastUsed -= size;
            usedWrap = !usedWrap;
        }
        numFree += chainLength[id];
        freeIds[freeIdCount++] = id;
        inFlightIds[id] = false;
        usedLength = (int) length;
        return tokens[id];
    }

    @Override
    public boolean hasUsed() {
        return PackedRing.isUsed(Le.u16(memory, ring + (long) lastUsed * DESC_SIZE + DESC_FLAGS), usedWrap);
    }

    @Override
    public boolean enableInterrupts() {
        if (eventIndex) {
            Le.u16(memory, driverEvent + EVENT_OFF_WRAP, PackedRing.offWrap(lastUsed, usedWrap));
            VarHandle.releaseFence();
            Le.u16(memory, driverEvent + EVENT_FLAGS, EVENT_FLAGS_DESC);
        } else {
            Le.u16(memory, driverEvent + EVENT_FLAGS, EVENT_FLAGS_ENABLE);
        }
        VarHandle.fullFence();
        return hasUsed();
    }

    @Override
    public void disableInterrupts() {
        Le.u16(memory, driverEvent + EVENT_FLAGS, EVENT_FLAGS_DISABLE);
    }
}

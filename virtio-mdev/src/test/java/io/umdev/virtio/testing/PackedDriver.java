package io.umdev.virtio.testing;

import static io.umdev.virtio.spec.PackedRing.DESC_ADDR;
import static io.umdev.virtio.spec.PackedRing.DESC_FLAGS;
import static io.umdev.virtio.spec.PackedRing.DESC_F_AVAIL;
import static io.umdev.virtio.spec.PackedRing.DESC_F_NEXT;
import static io.umdev.virtio.spec.PackedRing.DESC_F_USED;
import static io.umdev.virtio.spec.PackedRing.DESC_F_WRITE;
import static io.umdev.virtio.spec.PackedRing.DESC_ID;
import static io.umdev.virtio.spec.PackedRing.DESC_LEN;
import static io.umdev.virtio.spec.PackedRing.DESC_SIZE;
import static io.umdev.virtio.spec.PackedRing.EVENT_FLAGS;
import static io.umdev.virtio.spec.PackedRing.EVENT_OFF_WRAP;

import io.umdev.virtio.spec.PackedRing;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/** The driver's side of a packed ring, written by hand in test memory. */
public final class PackedDriver {
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public final int size;
    public final long desc;
    public final long driverEvent;
    public final long deviceEvent;
    private final MemorySegment ring;
    private final MemorySegment drv;
    private final MemorySegment dev;
    private int next;
    private boolean wrap = true;

    public PackedDriver(GuestMemory memory, long base, int size) {
        this.size = size;
        this.desc = base;
        this.driverEvent = (desc + PackedRing.ringSize(size) + 15) & -16L;
        this.deviceEvent = driverEvent + 16;
        this.ring = memory.at(desc, PackedRing.ringSize(size));
        this.drv = memory.at(driverEvent, PackedRing.EVENT_SIZE);
        this.dev = memory.at(deviceEvent, PackedRing.EVENT_SIZE);
        ring.fill((byte) 0);
        drv.fill((byte) 0);
        dev.fill((byte) 0);
    }

    public long end() {
        return deviceEvent + PackedRing.EVENT_SIZE;
    }

    private int availFlags(boolean w) {
        return w ? DESC_F_AVAIL : DESC_F_USED;
    }

    /** Writes one raw descriptor at ring position {@code pos} with the given flags (no AVAIL/USED added). */
    public void writeRaw(int pos, long addr, int len, int id, int flags) {
        long b = (long) pos * DESC_SIZE;
        ring.set(LE64, b + DESC_ADDR, addr);
        ring.set(LE32, b + DESC_LEN, len);
        ring.set(LE16, b + DESC_ID, (short) id);
        VarHandle.releaseFence();
        ring.set(LE16, b + DESC_FLAGS, (short) flags);
    }

    /**
     * Makes a chain of {address, length, writable} buffers available with buffer id {@code id}
     * (extraFlags are or-ed into every descriptor, e.g. INDIRECT). The head's flags are written last.
     * Returns the head position.
     */
    public int add(int id, int extraFlags, long[]... bufs) {
        int head = next;
        int pos = next;
        boolean w = wrap;
        int headFlags = 0;
        for (int k = 0; k < bufs.length; k++) {
            boolean last = k == bufs.length - 1;
            int flags = (bufs[k][2] != 0 ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT) | availFlags(w) | extraFlags;
            long b = (long) pos * DESC_SIZE;
            ring.set(LE64, b + DESC_ADDR, bufs[k][0]);
            ring.set(LE32, b + DESC_LEN, (int) bufs[k][1]);
            ring.set(LE16, b + DESC_ID, (short) id);
            if (k == 0) {
                headFlags = flags;
            } else {
                ring.set(LE16, b + DESC_FLAGS, (short) flags);
            }
            if (++pos == size) {
                pos = 0;
                w = !w;
            }
        }
        VarHandle.releaseFence();
        ring.set(LE16, (long) head * DESC_SIZE + DESC_FLAGS, (short) headFlags);
        next = pos;
        wrap = w;
        return head;
    }

    /** Writes entry {@code i} of an indirect table at {@code table} (flags WRITE or 0). */
    public static void writeIndirect(GuestMemory memory, long table, int i, long addr, int len, int flags) {
        MemorySegment m = memory.at(table + (long) i * DESC_SIZE, DESC_SIZE);
        m.set(LE64, DESC_ADDR, addr);
        m.set(LE32, DESC_LEN, len);
        m.set(LE16, DESC_ID, (short) 0);
        m.set(LE16, DESC_FLAGS, (short) flags);
    }

    public int next() {
        return next;
    }

    public boolean wrap() {
        return wrap;
    }

    public int flagsAt(int pos) {
        VarHandle.acquireFence();
        return Short.toUnsignedInt(ring.get(LE16, (long) pos * DESC_SIZE + DESC_FLAGS));
    }

    public int idAt(int pos) {
        return Short.toUnsignedInt(ring.get(LE16, (long) pos * DESC_SIZE + DESC_ID));
    }

    public int lenAt(int pos) {
        return ring.get(LE32, (long) pos * DESC_SIZE + DESC_LEN);
    }

    public boolean isUsed(int pos, boolean wrapCounter) {
        return PackedRing.isUsed(flagsAt(pos), wrapCounter);
    }

    public void setDriverEvent(int flags, int offWrap) {
        drv.set(LE16, EVENT_OFF_WRAP, (short) offWrap);
        drv.set(LE16, EVENT_FLAGS, (short) flags);
    }

    public int deviceEventFlags() {
        return Short.toUnsignedInt(dev.get(LE16, EVENT_FLAGS));
    }

    public int deviceEventOffWrap() {
        return Short.toUnsignedInt(dev.get(LE16, EVENT_OFF_WRAP));
    }
}

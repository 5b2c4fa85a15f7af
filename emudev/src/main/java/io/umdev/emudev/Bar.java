package io.umdev.emudev;

import io.umdev.emudev.pci.PciBar;
import io.umdev.linux.Errno;
import io.umdev.linux.LinuxException;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * One base address register's space, as the device serves it. It may be backed by shared memory (a
 * memfd the client can mmap where the device marks it mappable: no exit, no message) and holds trapped
 * ranges served by {@link RegisterHandler}s. An access inside a trapped range goes to its handler; any
 * other access goes to the shared memory; an access that straddles a trap's edge, or hits a BAR without
 * memory outside its traps, is refused.
 */
public final class Bar implements AutoCloseable {
    /** A range of the BAR served by a handler. */
    public record Trap(long offset, long length, RegisterHandler handler) {
    }

    /** A range of the shared memory the client may mmap (page-aligned). */
    public record MappableArea(long offset, long length) {
    }

    private final PciBar shape;
    private final OwnedFd memoryFd;
    private final MappedMemory memory;
    private final Trap[] traps;
    private final List<MappableArea> mappable;
    private final List<Doorbell> doorbells;

    private Bar(Builder b) throws LinuxException {
        this.shape = b.shape;
        this.traps = b.traps.stream().sorted(Comparator.comparingLong(Trap::offset)).toArray(Trap[]::new);
        for (int i = 1; i < traps.length; i++) {
            if (traps[i - 1].offset() + traps[i - 1].length() > traps[i].offset()) {
                throw new IllegalArgumentException("BAR " + shape.index() + " traps overlap at 0x"
                        + Long.toHexString(traps[i].offset()));
            }
        }
        this.mappable = List.copyOf(b.mappable);
        if (b.memoryName != null) {
            OwnedFd fd = Memfd.create(b.memoryName, shape.size());
            try {
                this.memory = MappedMemory.map(fd, 0, shape.size(), true);
            } catch (LinuxException e) {
                fd.close();
                throw e;
            }
            this.memoryFd = fd;
        } else {
            this.memoryFd = null;
            this.memory = null;
        }
        List<Doorbell> all = new ArrayList<>(b.doorbells);
        for (long offset : b.polled) {
            all.add(new Doorbell.PolledDoorbell(shape.index(), offset, memory.segment().asSlice(offset, Long.BYTES)));
        }
        this.doorbells = List.copyOf(all);
    }

    public static Builder memory32(int index, long size) {
        return new Builder(PciBar.memory32(index, size));
    }

    public static Builder memory64(int index, long size, boolean prefetchable) {
        return new Builder(PciBar.memory64(index, size, prefetchable));
    }

    public static Builder io(int index, long size) {
        return new Builder(PciBar.io(index, size));
    }

    public PciBar shape() {
        return shape;
    }

    public int index() {
        return shape.index();
    }

    public long size() {
        return shape.size();
    }

    /** The shared memory behind the BAR, or null if it is all registers. */
    public MemorySegment memory() {
        return memory == null ? null : memory.segment();
    }

    /** The memfd behind the BAR (owned by the BAR), or null. */
    public OwnedFd memoryFd() {
        return memoryFd;
    }

    public List<MappableArea> mappableAreas() {
        return mappable;
    }

    public List<Doorbell> doorbells() {
        return doorbells;
    }

    private Trap trapAt(long offset) {
        int low = 0;
        int high = traps.length - 1;
        while (low <= high) {
            int mid = (low + high) >>> 1;
            Trap t = traps[mid];
            if (offset < t.offset()) {
                high = mid - 1;
            } else if (offset >= t.offset() + t.length()) {
                low = mid + 1;
            } else {
                return t;
            }
        }
        return null;
    }

    /** True if [offset, offset+length) touches a trap without lying wholly inside it. */
    private boolean straddles(Trap inside, long offset, long length) {
        if (inside != null) {
            return offset + length > inside.offset() + inside.length();
        }
        for (Trap t : traps) {
            if (t.offset() < offset + length && offset < t.offset() + t.length()) {
                return true;
            }
        }
        return false;
    }

    /** A client read of [offset, offset + dst.byteSize()); the caller has checked it is inside the BAR. */
    public int read(long offset, MemorySegment dst) {
        Trap trap = trapAt(offset);
        if (straddles(trap, offset, dst.byteSize())) {
            return Errno.EINVAL;
        }
        if (trap != null) {
            return trap.handler().read(offset - trap.offset(), dst);
        }
        if (memory == null) {
            return Errno.EINVAL;
        }
        MemorySegment.copy(memory.segment(), offset, dst, 0, dst.byteSize());
        return Errno.OK;
    }

    /** A client write of {@code src} at {@code offset}; the caller has checked it is inside the BAR. */
    public int write(long offset, MemorySegment src) {
        Trap trap = trapAt(offset);
        if (straddles(trap, offset, src.byteSize())) {
            return Errno.EINVAL;
        }
        if (trap != null) {
            return trap.handler().write(offset - trap.offset(), src);
        }
        if (memory == null) {
            return Errno.EINVAL;
        }
        MemorySegment.copy(src, 0, memory.segment(), offset, src.byteSize());
        return Errno.OK;
    }

    @Override
    public void close() {
        if (memory != null) {
            memory.close();
            memoryFd.close();
        }
        for (Doorbell d : doorbells) {
            if (d instanceof Doorbell.EventFdDoorbell e) {
                e.eventFd().close();
            }
        }
    }

    /** Describes a BAR: its shape, its memory, its traps and doorbells. */
    public static final class Builder {
        private final PciBar shape;
        private final List<Trap> traps = new ArrayList<>();
        private final List<MappableArea> mappable = new ArrayList<>();
        private final List<Doorbell> doorbells = new ArrayList<>();
        private final List<Long> polled = new ArrayList<>();
        private String memoryName;

        private Builder(PciBar shape) {
            this.shape = shape;
        }

        public PciBar shape() {
            return shape;
        }

        private void checkRange(long offset, long length) {
            if (offset < 0 || length <= 0 || offset > shape.size() - length) {
                throw new IllegalArgumentException(String.format("range [0x%x, +0x%x) is outside BAR %d of 0x%x bytes",
                        offset, length, shape.index(), shape.size()));
            }
        }

        /** Backs the whole BAR with shared memory (a memfd named {@code name}). */
        public Builder sharedMemory(String name) {
            if (shape.kind() == PciBar.Kind.IO) {
                throw new IllegalArgumentException("an I/O BAR cannot be backed by memory");
            }
            this.memoryName = name;
            return this;
        }

        /** Lets the client mmap [offset, offset+length) of the shared memory. */
        public Builder mappable(long offset, long length) {
            checkRange(offset, length);
            if (memoryName == null) {
                throw new IllegalStateException("only shared memory can be mappable: call sharedMemory first");
            }
            if (offset % MappedMemory.PAGE_SIZE != 0 || length % MappedMemory.PAGE_SIZE != 0) {
                throw new IllegalArgumentException("mappable areas must be page-aligned");
            }
            mappable.add(new MappableArea(offset, length));
            return this;
        }

        /** Serves [offset, offset+length) with {@code handler}. */
        public Builder trap(long offset, long length, RegisterHandler handler) {
            checkRange(offset, length);
            traps.add(new Trap(offset, length, handler));
            return this;
        }

        /**
         * A doorbell at {@code offset}: a write there signals {@code eventFd} (directly through the client's
         * ioeventfd when it wires one, or by message). {@code datamatch} limits it to one written value.
         */
        public Builder eventFdDoorbell(long offset, int width, io.umdev.linux.EventFd eventFd, Long datamatch) {
            checkRange(offset, width);
            if (width != Byte.BYTES && width != Short.BYTES && width != Integer.BYTES && width != Long.BYTES) {
                throw new IllegalArgumentException("an ioeventfd doorbell is 1, 2, 4 or 8 bytes wide, not " + width);
            }
            Doorbell.EventFdDoorbell d = new Doorbell.EventFdDoorbell(shape.index(), offset, width, eventFd, datamatch);
            doorbells.add(d);
            traps.add(new Trap(offset, width, new EventFdRinger(d)));
            return this;
        }

        /** A doorbell served by {@code handler} on each (typically posted) write. */
        public Builder writeDoorbell(long offset, int width, RegisterHandler handler) {
            checkRange(offset, width);
            doorbells.add(new Doorbell.WriteDoorbell(shape.index(), offset, width, handler));
            traps.add(new Trap(offset, width, handler));
            return this;
        }

        /**
         * A doorbell the device polls: an 8-byte word at {@code offset} inside a mappable area, written by
         * the guest straight into shared memory.
         */
        public Builder polledDoorbell(long offset) {
            checkRange(offset, Long.BYTES);
            if (offset % Long.BYTES != 0) {
                throw new IllegalArgumentException("a polled doorbell is an aligned 8-byte word");
            }
            boolean inside = mappable.stream().anyMatch(a -> offset >= a.offset() && offset + Long.BYTES <= a.offset() + a.length());
            if (!inside) {
                throw new IllegalArgumentException("a polled doorbell must lie in a mappable area");
            }
            polled.add(offset);
            return this;
        }

        public Bar build() throws LinuxException {
            for (MappableArea area : mappable) {
                for (Trap t : traps) {
                    if (t.offset() < area.offset() + area.length() && area.offset() < t.offset() + t.length()) {
                        throw new IllegalArgumentException("a trap at 0x" + Long.toHexString(t.offset())
                                + " lies inside a mappable area: the client's mapping would bypass it");
                    }
                }
            }
            return new Bar(this);
        }
    }

    /** Rings an eventfd doorbell written by message (the client did not wire it as an ioeventfd). */
    private record EventFdRinger(Doorbell.EventFdDoorbell doorbell) implements RegisterHandler {
        @Override
        public int read(long offset, MemorySegment dst) {
            dst.fill((byte) 0);
            return Errno.OK;
        }

        @Override
        public int write(long offset, MemorySegment src) {
            if (doorbell.datamatch() != null && valueOf(src) != doorbell.datamatch()) {
                return Errno.OK;
            }
            doorbell.eventFd().signal();
            return Errno.OK;
        }

        private static long valueOf(MemorySegment src) {
            long value = 0;
            for (int i = 0; i < src.byteSize(); i++) {
                value |= (src.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) & 0xffL) << (8 * i);
            }
            return value;
        }
    }
}

package io.umdev.emudev.pci;

import static io.umdev.emudev.pci.PciRegisters.CONFIG_SIZE;
import static io.umdev.emudev.pci.PciRegisters.EXPRESS_CONFIG_SIZE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A PCI configuration space (256 bytes, or 4 KiB for PCI Express) with the access semantics of real
 * hardware, byte by byte: every bit is read-only, read-write, or write-1-to-clear. The device sets up
 * the contents and the masks; a guest write goes through {@link #write}, which keeps read-only bits,
 * takes read-write bits from the written value and clears write-1-to-clear bits written as one. BAR
 * registers get masks from their sizes, so that writing all ones reads back the size. Values are
 * little-endian as on the bus. Thread-safe.
 */
public final class PciConfigSpace {
    /** Told after a guest write touched its range (whether or not a byte changed). */
    @FunctionalInterface
    public interface WriteListener {
        void written(PciConfigSpace config);
    }

    private record Watch(int offset, int length, WriteListener listener) {
    }

    private final byte[] bytes;
    private final byte[] writable;
    private final byte[] clearOnOne;
    private final List<Watch> watches = new CopyOnWriteArrayList<>();

    public PciConfigSpace(int size) {
        if (size != CONFIG_SIZE && size != EXPRESS_CONFIG_SIZE) {
            throw new IllegalArgumentException("config space is 256 or 4096 bytes, not " + size);
        }
        bytes = new byte[size];
        writable = new byte[size];
        clearOnOne = new byte[size];
    }

    public int size() {
        return bytes.length;
    }

    public boolean isExpress() {
        return bytes.length == EXPRESS_CONFIG_SIZE;
    }

    private void check(int offset, int length) {
        if (offset < 0 || length < 0 || offset > bytes.length - length) {
            throw new IndexOutOfBoundsException("config access [" + offset + ", +" + length + ") outside "
                    + bytes.length + " bytes");
        }
    }

    // ---- the device's view: set contents and masks -------------------------------------------

    /** Stores {@code length} (1, 2 or 4) bytes of {@code value}, little-endian, whatever the masks. */
    public synchronized void set(int offset, int length, long value) {
        check(offset, length);
        for (int i = 0; i < length; i++) {
            bytes[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    public void set8(int offset, int value) {
        set(offset, 1, value);
    }

    public void set16(int offset, int value) {
        set(offset, 2, value);
    }

    public void set32(int offset, long value) {
        set(offset, 4, value);
    }

    /** Makes the bits of {@code mask} (over {@code length} bytes at {@code offset}) writable by the guest. */
    public synchronized void setWritable(int offset, int length, long mask) {
        check(offset, length);
        for (int i = 0; i < length; i++) {
            writable[offset + i] = (byte) (mask >>> (8 * i));
            clearOnOne[offset + i] &= (byte) ~(mask >>> (8 * i));
        }
    }

    /** Makes the bits of {@code mask} write-1-to-clear (and not otherwise writable). */
    public synchronized void setWriteOneToClear(int offset, int length, long mask) {
        check(offset, length);
        for (int i = 0; i < length; i++) {
            clearOnOne[offset + i] = (byte) (mask >>> (8 * i));
            writable[offset + i] &= (byte) ~(mask >>> (8 * i));
        }
    }

    /** Sets bits in place (the device raising a status bit), leaving the others. */
    public synchronized void setBits(int offset, int length, long bits) {
        set(offset, length, get(offset, length) | bits);
    }

    public synchronized void clearBits(int offset, int length, long bits) {
        set(offset, length, get(offset, length) & ~bits);
    }

    /** Calls {@code listener} after every guest write that touches [offset, offset+length). */
    public void watch(int offset, int length, WriteListener listener) {
        check(offset, length);
        watches.add(new Watch(offset, length, listener));
    }

    // ---- everyone's view ---------------------------------------------------------------------

    /** {@code length} (1..8) bytes at {@code offset}, little-endian, unsigned. */
    public synchronized long get(int offset, int length) {
        check(offset, length);
        long value = 0;
        for (int i = 0; i < length; i++) {
            value |= (bytes[offset + i] & 0xffL) << (8 * i);
        }
        return value;
    }

    public int get8(int offset) {
        return (int) get(offset, 1);
    }

    public int get16(int offset) {
        return (int) get(offset, 2);
    }

    public long get32(int offset) {
        return get(offset, 4);
    }

    // ---- the guest's view: accesses through the config region ---------------------------------

    /** Copies [offset, offset + dst.byteSize()) into {@code dst}. */
    public synchronized void read(int offset, MemorySegment dst) {
        check(offset, (int) dst.byteSize());
        MemorySegment.copy(bytes, offset, dst, ValueLayout.JAVA_BYTE, 0, (int) dst.byteSize());
    }

    /** A guest write: read-only bits kept, read-write bits taken, write-1-to-clear bits cleared. */
    public void write(int offset, MemorySegment src) {
        int length = (int) src.byteSize();
        synchronized (this) {
            check(offset, length);
            for (int i = 0; i < length; i++) {
                int at = offset + i;
                byte value = src.get(ValueLayout.JAVA_BYTE, i);
                byte next = (byte) ((bytes[at] & ~writable[at]) | (value & writable[at]));
                next &= (byte) ~(value & clearOnOne[at]);
                bytes[at] = next;
            }
        }
        for (Watch w : watches) {
            if (offset < w.offset() + w.length() && w.offset() < offset + length) {
                w.listener().written(this);
            }
        }
    }

    /** Restores the contents of an earlier {@link #snapshot()} (the masks stay as they are): a reset. */
    public synchronized void restore(byte[] snapshot) {
        if (snapshot.length != bytes.length) {
            throw new IllegalArgumentException("snapshot of " + snapshot.length + " bytes for a " + bytes.length + "-byte space");
        }
        System.arraycopy(snapshot, 0, bytes, 0, bytes.length);
    }

    /** A snapshot of the whole space, as the client reads it at realize. */
    public synchronized byte[] snapshot() {
        return bytes.clone();
    }
}

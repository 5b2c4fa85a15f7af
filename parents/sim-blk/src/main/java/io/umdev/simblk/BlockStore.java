package io.umdev.simblk;

import io.umdev.linux.LinuxException;
import java.lang.foreign.MemorySegment;

/**
 * The bytes behind a sim-blk disk: RAM ({@link RamStore}) or a file ({@link FileStore}). Offsets and
 * lengths are in bytes; the device has already checked them against {@link #capacity()} (the store
 * checks again and throws {@link IndexOutOfBoundsException}, a bug in the caller, never a guest's
 * doing). Data moves straight between the store and the caller's native segment: the guest's mapped
 * memory on the data path. Every method may be called from several queue workers at once.
 *
 * <p>An IO error of the backing store is a {@link LinuxException}: the device answers the request with
 * an IO error status and carries on.
 */
public sealed interface BlockStore extends AutoCloseable permits RamStore, FileStore {
    /** The disk's size in bytes, a multiple of the sector size. */
    long capacity();

    /** Whether writes, discards and write-zeroes are refused (the store was opened read-only). */
    boolean readOnly();

    /**
     * Copies [offset, offset+length) of the disk into {@code memory} at {@code memoryOffset}. Taking the
     * memory and an offset into it (a whole DMA range and a segment's place in it) spares the caller a
     * slice per segment.
     */
    void read(long offset, MemorySegment memory, long memoryOffset, long length) throws LinuxException;

    /**
     * Copies {@code length} bytes of {@code memory} from {@code memoryOffset} to the disk at
     * {@code offset}. On return the data is where a later read sees it and where a {@link #flush()}
     * makes it durable (a file's page cache).
     */
    void write(long offset, MemorySegment memory, long memoryOffset, long length) throws LinuxException;

    /** Copies [offset, offset + dst.byteSize()) of the disk into all of {@code dst}. */
    default void read(long offset, MemorySegment dst) throws LinuxException {
        read(offset, dst, 0, dst.byteSize());
    }

    /** Copies all of {@code src} to the disk at {@code offset}. */
    default void write(long offset, MemorySegment src) throws LinuxException {
        write(offset, src, 0, src.byteSize());
    }

    /** Makes every write that has returned durable (fdatasync of a file; nothing to do for RAM). */
    void flush() throws LinuxException;

    /** Tells the store [offset, offset+length) is unused; it reads as zeros afterwards here. */
    void discard(long offset, long length) throws LinuxException;

    /**
     * Makes [offset, offset+length) read as zeros. With {@code unmap} the store may release the space
     * (a hole); without it the space stays allocated.
     */
    void writeZeroes(long offset, long length, boolean unmap) throws LinuxException;

    /** How many times {@link #flush()} reached the backing store's sync (0 for RAM). */
    long syncs();

    /** One line for logs: what backs the disk. */
    String describe();

    /** Releases the memory or file. The caller has stopped every user first. */
    @Override
    void close();
}

package io.umdev.vfiouser.server;

import io.umdev.linux.Errno;
import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.vfiouser.irq.IrqIndex;
import java.lang.foreign.MemorySegment;

/**
 * What the vfio-user server needs from a device. The server validates every request first (indexes,
 * flags, offsets, lengths, descriptor counts), so implementations see only well-formed calls, always
 * from the connection's thread. Methods answer errno values (0 for success), or for those that produce
 * data a byte count or a negative errno. Exceptions thrown here become EIO replies and are logged.
 */
public interface VfioUserDevice {
    /** Flags and region/IRQ counts; constant for the device's life. */
    DeviceInfo info();

    /** Region {@code index}, 0 &lt;= index &lt; numRegions. */
    Region region(int index);

    /** IRQ index {@code index}, 0 &lt;= index &lt; numIrqs. */
    IrqIndex irq(int index);

    /** The table the server maps the client's memory into; the device reaches client memory through it. */
    DmaTable dma();

    /** VFIO_USER_DEVICE_RESET, and the reset done when a client leaves. */
    default int reset() {
        return Errno.OK;
    }

    /**
     * VFIO_USER_DEVICE_FEATURE. {@code flags} holds the feature index and GET/SET/PROBE; for GET the
     * device writes the feature data into {@code out} and answers its length. Answers -ENOTTY for a
     * feature it does not have, as the kernel does.
     */
    default long feature(int flags, MemorySegment data, MemorySegment out) {
        return -Errno.ENOTTY;
    }

    /** VFIO_USER_MIG_DATA_READ: fills up to {@code out.byteSize()} bytes, answers how many (or -errno). */
    default long migrationDataRead(MemorySegment out) {
        return -Errno.EOPNOTSUPP;
    }

    /** VFIO_USER_MIG_DATA_WRITE. */
    default int migrationDataWrite(MemorySegment data) {
        return Errno.EOPNOTSUPP;
    }

    /** A client finished VERSION negotiation. */
    default void connected(ClientSession session) {
    }

    /**
     * The client left. Afterwards the server resets the device, drops the client's IRQ eventfds and
     * unmaps its memory; a device with a data path stops it here.
     */
    default void disconnected(ClientSession session) {
    }
}

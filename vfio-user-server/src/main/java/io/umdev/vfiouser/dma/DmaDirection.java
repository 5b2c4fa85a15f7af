package io.umdev.vfiouser.dma;

/** Which way the device moves data: reading client memory needs READ, writing it needs WRITE. */
public enum DmaDirection {
    /** The device reads client memory (the client mapped the range readable). */
    READ,
    /** The device writes client memory (the client mapped the range writable). */
    WRITE
}

package io.umdev.vfiouser.dma;

import java.lang.foreign.MemorySegment;

/**
 * Reaches client memory that was mapped without an fd, by DMA_READ and DMA_WRITE messages. The
 * connection to the client implements it; transfers larger than the client accepts are split.
 */
public interface DmaMessenger {
    /** Fills {@code dst} from client memory at {@code iova}. */
    void dmaRead(long iova, MemorySegment dst) throws DmaException;

    /** Copies {@code src} to client memory at {@code iova}. */
    void dmaWrite(long iova, MemorySegment src) throws DmaException;
}

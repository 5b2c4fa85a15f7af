package io.umdev.emudev;

import java.lang.foreign.MemorySegment;

/**
 * Serves accesses to a trapped range of a BAR: registers whose reads and writes the device computes.
 * Offsets are relative to the start of the range; accesses never cross its end. Answers 0 or an
 * errno. Called on the connection's thread: keep it short, never wait on the data path.
 */
public interface RegisterHandler {
    int read(long offset, MemorySegment dst);

    int write(long offset, MemorySegment src);
}

package io.umdev.emudev;

import io.umdev.linux.EventFd;
import java.lang.foreign.MemorySegment;

/**
 * How a driver tells the device that work is waiting, as the device chose it when building its BAR.
 * Each kind trades cost for simplicity:
 * <ul>
 *   <li>{@link EventFdDoorbell}: a write to the doorbell address becomes an eventfd signal — directly
 *       from the client's hypervisor when it wires the eventfd as an ioeventfd, else through a
 *       message the server turns into the same signal. The device waits on the eventfd.</li>
 *   <li>{@link WriteDoorbell}: a trapped (typically posted) region write calls the device.</li>
 *   <li>{@link PolledDoorbell}: a word in shared, client-mappable memory the device polls: no exit, no
 *       message, at the cost of a polling thread.</li>
 * </ul>
 */
public sealed interface Doorbell {
    /** The BAR and offset the driver writes. */
    int bar();

    long offset();

    /**
     * @param width the access width the doorbell answers (1, 2, 4 or 8)
     * @param datamatch signal only writes of this value, or null for any value
     */
    record EventFdDoorbell(int bar, long offset, int width, EventFd eventFd, Long datamatch) implements Doorbell {
    }

    /** @param handler called with each write to [offset, offset+width) */
    record WriteDoorbell(int bar, long offset, int width, RegisterHandler handler) implements Doorbell {
    }

    /** @param word the doorbell's memory, as the device reads it */
    record PolledDoorbell(int bar, long offset, MemorySegment word) implements Doorbell {
    }
}

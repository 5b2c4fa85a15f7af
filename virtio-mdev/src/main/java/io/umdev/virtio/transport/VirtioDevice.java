package io.umdev.virtio.transport;

import io.umdev.vfiouser.dma.DmaTable;
import java.lang.foreign.MemorySegment;

/**
 * The virtio transport API: what a virtio-capable parent's device offers through
 * {@code MdevDevice.unwrap(VirtioDevice.class)}, and all a driver (virtio-pci over vfio-user,
 * vhost-user, the in-process driver) needs. After the kernel's {@code vdpa_config_ops}.
 *
 * <p><b>Lifecycle.</b> The driver follows the virtio initialisation sequence: {@link #reset()} (or
 * status 0), ACKNOWLEDGE, DRIVER, {@link #setDriverFeatures} with a subset of
 * {@link #deviceFeatures()}, FEATURES_OK — which the device may leave clear in {@link #status()} to
 * refuse the features — then per queue {@link #setQueueSize}, {@link #setQueueAddress},
 * {@link #setQueueInterrupt}, {@link #setQueueReady}, and finally DRIVER_OK, which starts the data
 * path. Driver features are fixed once FEATURES_OK is set; queue size and addresses are fixed while a
 * queue is ready and the device running (unless suspended). A device that finds the driver broke the
 * rules sets NEEDS_RESET, stops the affected queues and calls the config-change listener; only a reset
 * recovers it.
 *
 * <p><b>Data path.</b> {@link #kick(int)} is the doorbell: cheap, from any thread, never blocks; the
 * device then consumes the queue's available buffers from the rings in the address space of the queue's
 * group and signals the queue's {@link QueueInterrupt} when the driver wants to hear about used ones.
 *
 * <p><b>Save and restore.</b> {@link #suspend()} stops processing with all completed work published;
 * {@link #queueState}/{@link #setQueueState} read and set ring positions; {@link #resume()} continues,
 * handling kicks that arrived while suspended. With a {@link DirtyLog} set, every write to client
 * memory is logged.
 *
 * <p><b>Address spaces.</b> Queues belong to groups ({@link #queueGroup}); each group uses one address
 * space ({@link #setGroupAddressSpace}); address space 0 is the instance's own DMA table.
 *
 * <p><b>Errors.</b> Control-path methods throw {@link VirtioException} (with an errno) for an
 * out-of-range argument or a change the current state forbids. Queue numbers run from 0 to
 * {@link #queueCount()} - 1. Control-path methods may be called from any thread but are serialised by
 * the device; none waits on the data path for longer than one queue drain.
 */
public interface VirtioDevice {
    /** The virtio device ID ({@code VirtioId}); never 0. */
    int deviceId();

    /** The subsystem vendor ID the device reports. */
    int vendorId();

    /** Features the device offers (transport and device-class bits). */
    long deviceFeatures();

    /** Sets the features the driver accepts. @throws VirtioException EBUSY once FEATURES_OK is set */
    void setDriverFeatures(long features);

    long driverFeatures();

    /** The device status ({@code DeviceStatus} bits). */
    int status();

    /**
     * Writes the device status. 0 resets. Setting FEATURES_OK makes the device check the driver's
     * features (it leaves the bit clear to refuse); setting DRIVER_OK starts the ready queues.
     *
     * @throws VirtioException EINVAL if the write clears a bit the driver set earlier (other than by 0)
     */
    void setStatus(int status);

    /**
     * Back to the initial state: status 0, no driver features, every queue not ready, at position 0, with
     * the maximum size, no addresses and no interrupt, every group in address space 0. The config-change
     * listener and the dirty log belong to the binding driver, not to the guest's session, and stay.
     */
    void reset();

    /** Bytes of device-class configuration space. */
    int configSize();

    /** Copies config space at {@code offset} into {@code dst}. @throws VirtioException EINVAL if out of range */
    void readConfig(int offset, MemorySegment dst);

    /** Writes config space from {@code src}; read-only fields ignore writes. @throws VirtioException EINVAL if out of range */
    void writeConfig(int offset, MemorySegment src);

    /** Changes whenever the device changes its config space: a reader retries if it changed meanwhile. */
    int configGeneration();

    /** Called (on a device thread) when config space changes or the device needs a reset; null for none. */
    void setConfigChangeListener(Runnable listener);

    int queueCount();

    int queueMaxSize(int q);

    int queueMinSize(int q);

    /** @throws VirtioException EINVAL for a size the device cannot take, EBUSY while the queue runs */
    void setQueueSize(int q, int size);

    /** The ring areas (split: descriptor table, avail, used; packed: ring, driver event, device event). */
    void setQueueAddress(int q, long desc, long driver, long device);

    /** Enables or disables a queue; a disabled queue is not processed. Before or after DRIVER_OK. */
    void setQueueReady(int q, boolean ready);

    boolean queueReady(int q);

    /** The queue's position (split or packed, matching the negotiated ring layout). */
    QueueState queueState(int q);

    /** @throws VirtioException EBUSY while the queue runs, EINVAL for the wrong layout */
    void setQueueState(int q, QueueState state);

    /** The doorbell of queue {@code q}: cheap, any thread, never blocks. Out-of-range queues are ignored. */
    void kick(int q);

    /** How queue {@code q} signals the driver; {@link QueueInterrupt#NONE} or null for none. */
    void setQueueInterrupt(int q, QueueInterrupt interrupt);

    /** Stops processing after publishing completed work; kicks are remembered. */
    void suspend();

    /** Continues after {@link #suspend()}, processing kicks that arrived meanwhile. */
    void resume();

    int queueGroupCount();

    /** The group of queue {@code q}, 0..queueGroupCount()-1. */
    int queueGroup(int q);

    int addressSpaceCount();

    /** Moves a queue group to address space {@code asid}. @throws VirtioException EBUSY after DRIVER_OK */
    void setGroupAddressSpace(int group, int asid);

    /** The DMA table of address space {@code asid}; 0 is the instance's own. */
    DmaTable addressSpace(int asid);

    /** Logs writes to client memory to {@code log}; null turns logging off. */
    void setDirtyLog(DirtyLog log);

    /** Counters of queue {@code q}, read without locking. */
    QueueStatistics queueStatistics(int q);
}

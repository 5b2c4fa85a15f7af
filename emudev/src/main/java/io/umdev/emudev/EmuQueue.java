package io.umdev.emudev;

import io.umdev.vfiouser.dma.DmaTable;

/**
 * A generic device queue, as a driver sets it up: the guest addresses of its rings (their meaning is
 * the personality's — descriptor, driver and device areas for virtio), its size, whether it is enabled,
 * the doorbell that announces work and the interrupt vector that announces completions. Addresses are
 * IOVAs in the device's {@link DmaTable}; nothing here touches them.
 */
public final class EmuQueue {
    /** Vector value meaning "no interrupt" (as virtio's NO_VECTOR). */
    public static final int NO_VECTOR = 0xffff;

    private final int index;
    private final int maxSize;
    private volatile int size;
    private volatile long descAddress;
    private volatile long driverAddress;
    private volatile long deviceAddress;
    private volatile int vector = NO_VECTOR;
    private volatile boolean enabled;
    private volatile Doorbell doorbell;

    public EmuQueue(int index, int maxSize) {
        if (maxSize <= 0) {
            throw new IllegalArgumentException("queue size must be positive");
        }
        this.index = index;
        this.maxSize = maxSize;
        this.size = maxSize;
    }

    public int index() {
        return index;
    }

    public int maxSize() {
        return maxSize;
    }

    public int size() {
        return size;
    }

    /** Sets the ring size; refused (false) above the maximum, at zero, or while enabled. */
    public boolean setSize(int size) {
        if (enabled || size <= 0 || size > maxSize) {
            return false;
        }
        this.size = size;
        return true;
    }

    public long descAddress() {
        return descAddress;
    }

    public long driverAddress() {
        return driverAddress;
    }

    public long deviceAddress() {
        return deviceAddress;
    }

    /** Sets the ring addresses; refused (false) while enabled. */
    public boolean setAddresses(long desc, long driver, long device) {
        if (enabled) {
            return false;
        }
        this.descAddress = desc;
        this.driverAddress = driver;
        this.deviceAddress = device;
        return true;
    }

    public int vector() {
        return vector;
    }

    public void setVector(int vector) {
        this.vector = vector;
    }

    public boolean enabled() {
        return enabled;
    }

    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

    public Doorbell doorbell() {
        return doorbell;
    }

    public void setDoorbell(Doorbell doorbell) {
        this.doorbell = doorbell;
    }

    /** Back to the state after power-on: disabled, no addresses, maximum size, no vector. */
    public void reset() {
        enabled = false;
        size = maxSize;
        descAddress = 0;
        driverAddress = 0;
        deviceAddress = 0;
        vector = NO_VECTOR;
    }
}

package io.umdev.mdev;

import io.umdev.vfiouser.dma.DmaTable;
import java.util.Optional;
import java.util.UUID;

/**
 * One instance on the bus: a UUID, the parent and type it was created from, its validated attributes,
 * its own DMA context, the device its parent made, and its binding. Created and changed only by the
 * {@link MdevBus}; reading it is safe from any thread (the mutable fields are published volatile).
 */
public final class MdevInstance {
    private final UUID uuid;
    private final ParentDevice parent;
    private final MdevType type;
    private final DmaTable dmaTable;
    private final MdevDevice device;
    /** Creation order on the bus; instances are removed in reverse order at shutdown. */
    final long sequence;
    private volatile Attributes attributes;
    private volatile String driverOverride;
    private volatile MdevDriver driver;
    private volatile InstanceState state = InstanceState.UNBOUND;

    MdevInstance(UUID uuid, ParentDevice parent, MdevType type, Attributes attributes, DmaTable dmaTable,
            MdevDevice device, String driverOverride, long sequence) {
        this.uuid = uuid;
        this.parent = parent;
        this.type = type;
        this.attributes = attributes;
        this.dmaTable = dmaTable;
        this.device = device;
        this.driverOverride = driverOverride;
        this.sequence = sequence;
    }

    public UUID uuid() {
        return uuid;
    }

    public ParentDevice parent() {
        return parent;
    }

    public MdevType type() {
        return type;
    }

    public DeviceApi deviceApi() {
        return type.deviceApi();
    }

    public Attributes attributes() {
        return attributes;
    }

    /** The instance's own DMA context: the memory its client mapped, and nothing else. */
    public DmaTable dmaTable() {
        return dmaTable;
    }

    /** What the parent created; {@link MdevDevice#unwrap} gives a driver the interface it speaks. */
    public MdevDevice device() {
        return device;
    }

    /** The only driver allowed to bind this instance, if set (the kernel's {@code driver_override}). */
    public Optional<String> driverOverride() {
        return Optional.ofNullable(driverOverride);
    }

    public Optional<MdevDriver> driver() {
        return Optional.ofNullable(driver);
    }

    public InstanceState state() {
        return state;
    }

    void setAttributes(Attributes attributes) {
        this.attributes = attributes;
    }

    void setDriverOverride(String driverOverride) {
        this.driverOverride = driverOverride;
    }

    void bound(MdevDriver driver) {
        this.driver = driver;
        this.state = InstanceState.BOUND;
    }

    void unbound() {
        this.driver = null;
        this.state = InstanceState.UNBOUND;
    }

    void removed() {
        this.driver = null;
        this.state = InstanceState.REMOVED;
    }

    @Override
    public String toString() {
        return uuid + " (" + parent.name() + "/" + type.name() + ", " + state.label()
                + (driver != null ? " to " + driver.name() : "") + ")";
    }
}

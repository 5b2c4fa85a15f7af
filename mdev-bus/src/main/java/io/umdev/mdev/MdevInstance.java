package io.umdev.mdev;

import io.umdev.vfiouser.dma.DmaTable;
import java.util.Optional;
import java.util.UUID;

/**
 * One instance on the bus: a UUID, the parent and type it was created from, its validated attributes
 * (current ones: a live update may replace them), its own DMA context, the device its parent made, and
 * its binding. Created and changed only by the
 * {@link MdevBus}; reading it is safe from any thread (the mutable fields are published volatile).
 */
public final class MdevInstance {
    private final InstanceContext context;
    private final ParentDevice parent;
    private final MdevDevice device;
    /** Creation order on the bus; instances are removed in reverse order at shutdown. */
    final long sequence;
    private volatile Attributes attributes;
    private volatile String driverOverride;
    private volatile MdevDriver driver;
    private volatile InstanceState state = InstanceState.UNBOUND;

    MdevInstance(InstanceContext context, ParentDevice parent, MdevDevice device, String driverOverride,
            long sequence) {
        this.context = context;
        this.parent = parent;
        this.attributes = context.attributes();
        this.device = device;
        this.driverOverride = driverOverride;
        this.sequence = sequence;
    }

    public UUID uuid() {
        return context.uuid();
    }

    public ParentDevice parent() {
        return parent;
    }

    public MdevType type() {
        return context.type();
    }

    public DeviceApi deviceApi() {
        return context.type().deviceApi();
    }

    public Attributes attributes() {
        return attributes;
    }

    /**
     * The instance's own DMA context: the memory its client mapped, and nothing else. The same table
     * its parent got from {@link InstanceContext#dmaTable()}; made on first use.
     */
    public DmaTable dmaTable() {
        return context.dmaTable();
    }

    /** The context the parent created this instance with. */
    public InstanceContext context() {
        return context;
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
        return context.uuid() + " (" + parent.name() + "/" + context.type().name() + ", " + state.label()
                + (driver != null ? " to " + driver.name() : "") + ")";
    }
}

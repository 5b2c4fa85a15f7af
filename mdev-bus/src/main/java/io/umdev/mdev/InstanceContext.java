package io.umdev.mdev;

import io.umdev.vfiouser.dma.DmaTable;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.UUID;

/**
 * What a parent is given to create an instance: its UUID, type, validated attributes and its own DMA
 * context. The bus makes one per instance and keeps it for the instance's life; a parent's unit test may
 * make its own.
 *
 * <p>The DMA table is made on first use: an instance whose parent and drivers never ask for it (no
 * client has connected yet) costs no table. Once made it is the same table for the parent and every
 * driver, and the bus closes it after the instance is removed.
 */
public final class InstanceContext {
    private static final VarHandle DMA_TABLE;

    static {
        try {
            DMA_TABLE = MethodHandles.lookup().findVarHandle(InstanceContext.class, "dmaTable", DmaTable.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final UUID uuid;
    private final MdevType type;
    private final Attributes attributes;
    private final int dmaMappings;
    @SuppressWarnings("unused") // through DMA_TABLE
    private volatile DmaTable dmaTable;

    /**
     * @param dmaMappings how many DMA ranges the instance's client may map
     */
    public InstanceContext(UUID uuid, MdevType type, Attributes attributes, int dmaMappings) {
        this.uuid = Objects.requireNonNull(uuid, "uuid");
        this.type = Objects.requireNonNull(type, "type");
        this.attributes = Objects.requireNonNull(attributes, "attributes");
        if (dmaMappings < 1) {
            throw new IllegalArgumentException("dmaMappings must be positive: " + dmaMappings);
        }
        this.dmaMappings = dmaMappings;
    }

    /** The instance's UUID, unique across the bus. */
    public UUID uuid() {
        return uuid;
    }

    /** The type asked for, one of the parent's. */
    public MdevType type() {
        return type;
    }

    /** The attributes at create time, validated against the type, defaults filled in. */
    public Attributes attributes() {
        return attributes;
    }

    /**
     * This instance's own DMA context: the memory its client maps, and nothing else. Made on the first
     * call; every call returns the same table. Do not close it: the bus does.
     */
    public DmaTable dmaTable() {
        DmaTable table = (DmaTable) DMA_TABLE.getAcquire(this);
        if (table != null) {
            return table;
        }
        DmaTable fresh = new DmaTable(dmaMappings);
        DmaTable raced = (DmaTable) DMA_TABLE.compareAndExchange(this, (DmaTable) null, fresh);
        return raced != null ? raced : fresh;
    }

    /** Whether the DMA table has been made. */
    public boolean hasDmaTable() {
        return DMA_TABLE.getAcquire(this) != null;
    }

    /** Unmaps and forgets the table, if one was made: the bus's part when an instance goes. */
    void closeDmaTable() {
        DmaTable table = (DmaTable) DMA_TABLE.getAndSet(this, (DmaTable) null);
        if (table != null) {
            table.close();
        }
    }

    @Override
    public String toString() {
        return "instance " + uuid + " of type " + type.name() + " " + attributes;
    }
}

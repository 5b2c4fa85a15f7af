package io.umdev.mdev;

import io.umdev.vfiouser.dma.DmaTable;
import java.util.Objects;
import java.util.UUID;

/**
 * What a parent is given to create an instance.
 *
 * @param uuid the instance's UUID, unique across the bus
 * @param type the type asked for, one of the parent's
 * @param attributes validated against the type, defaults filled in
 * @param dmaTable this instance's own DMA context: the memory its client maps, and nothing else. The
 *     bus owns it and closes it after the instance is removed
 */
public record InstanceContext(UUID uuid, MdevType type, Attributes attributes, DmaTable dmaTable) {
    public InstanceContext {
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(attributes, "attributes");
        Objects.requireNonNull(dmaTable, "dmaTable");
    }
}

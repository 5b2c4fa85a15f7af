package io.umdev.simblk;

import io.umdev.mdev.Attributes;
import io.umdev.mdev.InstanceContext;
import io.umdev.mdev.MdevException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.UUID;

/** Makes sim-blk devices the way the bus would (parent, context, attributes) and cleans them up. */
final class Disks implements AutoCloseable {
    private static final int DMA_MAPPINGS = 16;

    private final SimBlkParent parent = new SimBlkParent();
    private final List<SimBlkDevice> devices = new ArrayList<>();
    private final List<InstanceContext> contexts = new ArrayList<>();

    /** A device from attribute name/value pairs, validated as the bus would. */
    SimBlkDevice create(String... pairs) throws MdevException {
        LinkedHashMap<String, String> given = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            given.put(pairs[i], pairs[i + 1]);
        }
        Attributes attributes = SimBlkParent.BLK.parseAttributes(given);
        parent.validate(SimBlkParent.BLK, attributes);
        InstanceContext context = new InstanceContext(UUID.randomUUID(), SimBlkParent.BLK, attributes, DMA_MAPPINGS);
        SimBlkDevice device = (SimBlkDevice) parent.create(context);
        devices.add(device);
        contexts.add(context);
        return device;
    }

    @Override
    public void close() {
        for (SimBlkDevice device : devices) {
            parent.remove(device);
        }
        for (InstanceContext context : contexts) {
            if (context.hasDmaTable()) {
                context.dmaTable().close();
            }
        }
    }
}

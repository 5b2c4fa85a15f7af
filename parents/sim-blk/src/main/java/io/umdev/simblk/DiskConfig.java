package io.umdev.simblk;

import io.umdev.mdev.Attributes;
import java.util.Locale;
import java.util.UUID;

/**
 * What a sim-blk instance was asked to be, from its attributes: queue count, read-only, and the
 * serial GET_ID answers.
 *
 * @param numQueues request queues, 1 to {@link SimBlkParent#MAX_QUEUES}
 * @param readOnly writes are refused and VIRTIO_BLK_F_RO is offered
 * @param serial printable ASCII, at most 20 characters
 */
record DiskConfig(int numQueues, boolean readOnly, String serial) {
    /** Characters of the UUID's hexadecimal digits used as the default serial. */
    private static final int DEFAULT_SERIAL_LENGTH = 20;

    static DiskConfig of(UUID uuid, Attributes attributes) {
        String serial = attributes.get(SimBlkParent.SERIAL, String.class)
                .orElseGet(() -> uuid.toString().replace("-", "").substring(0, DEFAULT_SERIAL_LENGTH)
                        .toLowerCase(Locale.ROOT));
        return new DiskConfig(Math.toIntExact(attributes.getLong(SimBlkParent.NUM_QUEUES)),
                attributes.getBoolean(SimBlkParent.READ_ONLY), serial);
    }
}

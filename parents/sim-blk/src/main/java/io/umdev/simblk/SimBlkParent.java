package io.umdev.simblk;

import io.umdev.linux.Errno;
import io.umdev.linux.LinuxException;
import io.umdev.mdev.AttributeSpec;
import io.umdev.mdev.Attributes;
import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.InstanceContext;
import io.umdev.mdev.MdevDevice;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevType;
import io.umdev.mdev.ParentDevice;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.virtio.transport.Polling;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Parent {@code sim-blk}: one type, {@code blk}, a virtio-blk disk in RAM or in a file. The analogue of
 * the kernel's vdpa_sim_blk, grown a backing file, multiqueue and a read-only mode.
 */
public final class SimBlkParent implements ParentDevice {
    private static final Logger LOG = LoggerFactory.getLogger(SimBlkParent.class);

    public static final String NAME = "sim-blk";
    public static final String TYPE = "blk";

    public static final String CAPACITY = "capacity";
    public static final String BACKING_FILE = "backing_file";
    public static final String NUM_QUEUES = "num_queues";
    public static final String READ_ONLY = "read_only";
    public static final String SERIAL = "serial";

    /** More queues than this buys nothing on a software disk and costs a worker thread each. */
    public static final int MAX_QUEUES = 16;
    /** The largest disk: 16 TiB, far beyond what a RAM disk can hold but within any file system's files. */
    private static final long MAX_CAPACITY = 1L << 44;

    static final MdevType BLK = new MdevType(TYPE, "virtio-blk disk in RAM or in a file", DeviceApi.VIRTIO,
            MdevType.UNLIMITED, List.of(
                    AttributeSpec.size(CAPACITY, "disk size in bytes (suffixes K, M, G, T); with a backing_file "
                            + "and no capacity given, the file's size")
                            .withRange(BlkSpec.SECTOR_SIZE, MAX_CAPACITY)
                            .withMultipleOf(BlkSpec.SECTOR_SIZE)
                            .withDefault("128M"),
                    AttributeSpec.path(BACKING_FILE, "file holding the disk, created and sized to the capacity "
                            + "if absent; RAM (lost with the instance) if omitted"),
                    AttributeSpec.integer(NUM_QUEUES, "request queues (virtio-blk multiqueue)")
                            .withRange(1, MAX_QUEUES)
                            .withDefault("1"),
                    AttributeSpec.bool(READ_ONLY, "refuse writes (offers VIRTIO_BLK_F_RO)").withDefault("false"),
                    AttributeSpec.string(SERIAL, "what GET_ID answers: up to 20 printable ASCII characters; "
                            + "the start of the instance UUID if omitted")
                            .withRange(0, BlkSpec.ID_BYTES),
                    Polling.attribute()));

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<MdevType> types() {
        return List.of(BLK);
    }

    @Override
    public void validate(MdevType type, Attributes attributes) throws MdevException {
        Optional<String> serial = attributes.get(SERIAL, String.class);
        if (serial.isPresent() && !serial.get().chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
            throw MdevException.invalid("attrs." + SERIAL, "serial must be printable ASCII: '" + serial.get() + "'");
        }
        Optional<Path> backing = attributes.get(BACKING_FILE, Path.class);
        if (backing.isEmpty()) {
            return;
        }
        Path file = backing.get();
        if (Files.isDirectory(file)) {
            throw MdevException.invalid("attrs." + BACKING_FILE, file + " is a directory; give a file");
        }
        if (attributes.getBoolean(READ_ONLY) && !Files.exists(file)) {
            throw MdevException.invalid("attrs." + BACKING_FILE,
                    "read-only disk " + file + " does not exist; a read-only disk needs an existing file");
        }
        Path directory = file.getParent();
        if (!Files.exists(file) && (directory == null || !Files.isDirectory(directory))) {
            throw MdevException.invalid("attrs." + BACKING_FILE,
                    "cannot create " + file + ": its directory does not exist");
        }
    }

    @Override
    public MdevDevice create(InstanceContext context) throws MdevException {
        Attributes attributes = context.attributes();
        DiskConfig disk = DiskConfig.of(context.uuid(), attributes);
        BlockStore store = openStore(context, disk);
        try {
            SimBlkDevice device = new SimBlkDevice(context, disk, store);
            device.setPollLimit(Polling.limit(attributes));
            LOG.info("{}: virtio-blk on {}, {} queue(s), serial '{}', polling {}", context.uuid(), store.describe(),
                    disk.numQueues(), disk.serial(), device.pollLimit().isZero() ? "off" : "up to " + device.pollLimit());
            return device;
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    private static BlockStore openStore(InstanceContext context, DiskConfig disk) throws MdevException {
        Attributes attributes = context.attributes();
        Optional<Path> backing = attributes.get(BACKING_FILE, Path.class);
        try {
            if (backing.isEmpty()) {
                return RamStore.create(NAME + "-" + context.uuid(), attributes.getLong(CAPACITY), disk.readOnly());
            }
            // A given capacity sizes the file; otherwise the file's size is the disk's.
            long capacity = attributes.given().containsKey(CAPACITY) ? attributes.getLong(CAPACITY) : 0;
            if (capacity == 0 && !Files.exists(backing.get())) {
                capacity = attributes.getLong(CAPACITY);
            }
            return FileStore.open(backing.get(), capacity, disk.readOnly(), BlkSpec.SECTOR_SIZE);
        } catch (LinuxException e) {
            if (e.errno() == Errno.EAGAIN) {
                throw MdevException.busy("attrs." + BACKING_FILE, backing.orElseThrow()
                        + " is in use by another disk (locked); give each instance its own file, or make every "
                        + "user of a shared image read_only");
            }
            throw new MdevException(e.errno(), backing.isPresent() ? "attrs." + BACKING_FILE : "attrs." + CAPACITY,
                    "cannot open the disk" + backing.map(p -> " " + p).orElse(" in RAM") + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void remove(MdevDevice device) {
        device.unwrap(SimBlkDevice.class).ifPresent(SimBlkDevice::close);
    }
}

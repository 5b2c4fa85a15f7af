package io.umdev.virtio.spec;

/**
 * virtio-blk (device ID 2, virtio section 5.2): feature bits, the device configuration layout, the
 * request header, request types and status codes.
 */
public final class BlkSpec {
    // Feature bits.
    public static final int F_SIZE_MAX = 1;
    public static final int F_SEG_MAX = 2;
    public static final int F_GEOMETRY = 4;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;
    public static final int F_TOPOLOGY = 10;
    public static final int F_CONFIG_WCE = 11;
    public static final int F_MQ = 12;
    public static final int F_DISCARD = 13;
    public static final int F_WRITE_ZEROES = 14;
    public static final int F_LIFETIME = 15;
    public static final int F_SECURE_ERASE = 16;
    public static final int F_ZONED = 17;

    /** Capacities and request sectors count 512-byte sectors, whatever blk_size says. */
    public static final int SECTOR_SIZE = 512;
    public static final int SECTOR_SHIFT = 9;

    // Device configuration (struct virtio_blk_config).
    public static final int CONFIG_CAPACITY = 0;
    public static final int CONFIG_SIZE_MAX = 8;
    public static final int CONFIG_SEG_MAX = 12;
    public static final int CONFIG_GEOMETRY_CYLINDERS = 16;
    public static final int CONFIG_GEOMETRY_HEADS = 18;
    public static final int CONFIG_GEOMETRY_SECTORS = 19;
    public static final int CONFIG_BLK_SIZE = 20;
    public static final int CONFIG_PHYSICAL_BLOCK_EXP = 24;
    public static final int CONFIG_ALIGNMENT_OFFSET = 25;
    public static final int CONFIG_MIN_IO_SIZE = 26;
    public static final int CONFIG_OPT_IO_SIZE = 28;
    public static final int CONFIG_WRITEBACK = 32;
    public static final int CONFIG_NUM_QUEUES = 34;
    public static final int CONFIG_MAX_DISCARD_SECTORS = 36;
    public static final int CONFIG_MAX_DISCARD_SEG = 40;
    public static final int CONFIG_DISCARD_SECTOR_ALIGNMENT = 44;
    public static final int CONFIG_MAX_WRITE_ZEROES_SECTORS = 48;
    public static final int CONFIG_MAX_WRITE_ZEROES_SEG = 52;
    public static final int CONFIG_WRITE_ZEROES_MAY_UNMAP = 56;
    public static final int CONFIG_MAX_SECURE_ERASE_SECTORS = 60;
    public static final int CONFIG_MAX_SECURE_ERASE_SEG = 64;
    public static final int CONFIG_SECURE_ERASE_SECTOR_ALIGNMENT = 68;
    public static final int CONFIG_ZONED = 72;
    /** Size up to and including the secure-erase fields (no zoned block). */
    public static final int CONFIG_SIZE = 72;
    /** Size including the zoned characteristics block. */
    public static final int CONFIG_SIZE_ZONED = 96;

    // Request: header {type u32, ioprio u32, sector u64}, data, then a 1-byte status the device writes.
    public static final int REQ_TYPE = 0;
    public static final int REQ_IOPRIO = 4;
    public static final int REQ_SECTOR = 8;
    public static final int REQ_HDR_SIZE = 16;
    public static final int REQ_STATUS_SIZE = 1;

    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;
    public static final int T_GET_LIFETIME = 10;
    public static final int T_DISCARD = 11;
    public static final int T_WRITE_ZEROES = 13;
    public static final int T_SECURE_ERASE = 14;

    public static final int S_OK = 0;
    public static final int S_IOERR = 1;
    public static final int S_UNSUPP = 2;

    /** GET_ID answers at most this many bytes (not NUL-terminated when full). */
    public static final int ID_BYTES = 20;

    // Discard / write-zeroes / secure-erase segment: sector u64, num_sectors u32, flags u32.
    public static final int SEG_SECTOR = 0;
    public static final int SEG_NUM_SECTORS = 8;
    public static final int SEG_FLAGS = 12;
    public static final int SEG_SIZE = 16;
    public static final int SEG_F_UNMAP = 1;

    private BlkSpec() {
    }
}

package io.umdev.vhost.protocol;

/**
 * Sizes and field offsets of the payloads (vhost-user.rst, "Message types"). Offsets are from the start
 * of the payload.
 */
public final class Payloads {
    /** A u64: features, protocol features, queue count, status, a vring descriptor (kick/call/err). */
    public static final int U64_SIZE = 8;

    /** Vring state: u32 index, u32 num (SET_VRING_NUM/BASE, GET_VRING_BASE, SET_VRING_ENABLE). */
    public static final int VRING_STATE_SIZE = 8;
    public static final long VRING_STATE_INDEX = 0;
    public static final long VRING_STATE_NUM = 4;

    /** Vring address: u32 index, u32 flags, u64 descriptor, used, available and log addresses. */
    public static final int VRING_ADDR_SIZE = 40;
    public static final long VRING_ADDR_INDEX = 0;
    public static final long VRING_ADDR_FLAGS = 4;
    public static final long VRING_ADDR_DESC = 8;
    public static final long VRING_ADDR_USED = 16;
    public static final long VRING_ADDR_AVAIL = 24;
    public static final long VRING_ADDR_LOG = 32;
    /** VHOST_VRING_F_LOG: the used ring is logged at the log address. */
    public static final int VRING_ADDR_F_LOG = 1;

    /** A vring descriptor u64 (kick/call/err): bits 0-7 index, bit 8 "no fd" (polling). */
    public static final long VRING_FILE_INDEX_MASK = 0xff;
    public static final long VRING_FILE_NOFD = 1L << 8;

    /** Memory table: u32 count, u32 padding, then count regions. */
    public static final int MEMORY_HEADER_SIZE = 8;
    public static final long MEMORY_COUNT = 0;
    /** One region: u64 guest physical address, u64 size, u64 front-end virtual address, u64 mmap offset. */
    public static final int MEMORY_REGION_SIZE = 32;
    public static final long REGION_GUEST_ADDR = 0;
    public static final long REGION_SIZE = 8;
    public static final long REGION_USER_ADDR = 16;
    public static final long REGION_MMAP_OFFSET = 24;
    /** VHOST_MEMORY_BASELINE_NREGIONS: regions (and descriptors) in one SET_MEM_TABLE. */
    public static final int MAX_MEMORY_REGIONS = 8;

    /** Log description: u64 mmap size, u64 mmap offset. */
    public static final int LOG_SIZE = 16;
    public static final long LOG_MMAP_SIZE = 0;
    public static final long LOG_MMAP_OFFSET = 8;

    /** Config space: u32 offset, u32 size, u32 flags, then size bytes. */
    public static final int CONFIG_HEADER_SIZE = 12;
    public static final long CONFIG_OFFSET = 0;
    public static final long CONFIG_SIZE = 4;
    public static final long CONFIG_FLAGS = 8;
    /** VHOST_USER_MAX_CONFIG_SIZE. */
    public static final int MAX_CONFIG_SIZE = 256;

    /** The largest payload accepted: the memory table is the largest message this backend handles. */
    public static final int MAX_PAYLOAD = 4096;
    /** The most descriptors one message may carry (the memory table's). */
    public static final int MAX_FDS = MAX_MEMORY_REGIONS;


    private Payloads() {
    }
}

package io.umdev.virtio.spec;

/**
 * virtio-net (device ID 1, virtio section 5.1): feature bits, the device configuration layout, the
 * per-packet header, the control-queue commands and the queue numbering.
 */
public final class NetSpec {
    // Feature bits.
    public static final int F_CSUM = 0;
    public static final int F_GUEST_CSUM = 1;
    public static final int F_CTRL_GUEST_OFFLOADS = 2;
    public static final int F_MTU = 3;
    public static final int F_MAC = 5;
    public static final int F_GUEST_TSO4 = 7;
    public static final int F_GUEST_TSO6 = 8;
    public static final int F_GUEST_ECN = 9;
    public static final int F_GUEST_UFO = 10;
    public static final int F_HOST_TSO4 = 11;
    public static final int F_HOST_TSO6 = 12;
    public static final int F_HOST_ECN = 13;
    public static final int F_HOST_UFO = 14;
    public static final int F_MRG_RXBUF = 15;
    public static final int F_STATUS = 16;
    public static final int F_CTRL_VQ = 17;
    public static final int F_CTRL_RX = 18;
    public static final int F_CTRL_VLAN = 19;
    /** RX class commands ALLUNI, NOMULTI, NOUNI and NOBCAST (needs CTRL_RX). */
    public static final int F_CTRL_RX_EXTRA = 20;
    public static final int F_GUEST_ANNOUNCE = 21;
    public static final int F_MQ = 22;
    public static final int F_CTRL_MAC_ADDR = 23;
    public static final int F_HASH_REPORT = 57;
    public static final int F_RSS = 60;
    public static final int F_SPEED_DUPLEX = 63;

    // Device configuration (struct virtio_net_config).
    public static final int CONFIG_MAC = 0;
    public static final int MAC_BYTES = 6;
    public static final int CONFIG_STATUS = 6;
    public static final int CONFIG_MAX_VIRTQUEUE_PAIRS = 8;
    public static final int CONFIG_MTU = 10;
    public static final int CONFIG_SPEED = 12;
    public static final int CONFIG_DUPLEX = 16;
    public static final int CONFIG_RSS_MAX_KEY_SIZE = 17;
    public static final int CONFIG_RSS_MAX_INDIRECTION_TABLE_LENGTH = 18;
    public static final int CONFIG_SUPPORTED_HASH_TYPES = 20;
    public static final int CONFIG_SIZE = 24;
    public static final int STATUS_LINK_UP = 1;
    public static final int STATUS_ANNOUNCE = 2;
    /** Speed value meaning "unknown" (SPEED_DUPLEX). */
    public static final int SPEED_UNKNOWN = -1;
    public static final int DUPLEX_HALF = 0;
    public static final int DUPLEX_FULL = 1;
    public static final int DUPLEX_UNKNOWN = 0xFF;

    // Packet header (struct virtio_net_hdr_v1), in front of every frame on rx and tx under VERSION_1.
    public static final int HDR_FLAGS = 0;
    public static final int HDR_GSO_TYPE = 1;
    public static final int HDR_HDR_LEN = 2;
    public static final int HDR_GSO_SIZE = 4;
    public static final int HDR_CSUM_START = 6;
    public static final int HDR_CSUM_OFFSET = 8;
    public static final int HDR_NUM_BUFFERS = 10;
    public static final int HDR_SIZE = 12;
    public static final int HDR_F_NEEDS_CSUM = 1;
    public static final int HDR_F_DATA_VALID = 2;
    public static final int HDR_F_RSC_INFO = 4;
    public static final int HDR_GSO_NONE = 0;
    public static final int HDR_GSO_TCPV4 = 1;
    public static final int HDR_GSO_UDP = 3;
    public static final int HDR_GSO_TCPV6 = 4;
    public static final int HDR_GSO_UDP_L4 = 5;
    public static final int HDR_GSO_ECN = 0x80;

    // Control queue: {u8 class, u8 command} + command data + u8 ack (device-writable).
    public static final int CTRL_HDR_CLASS = 0;
    public static final int CTRL_HDR_COMMAND = 1;
    public static final int CTRL_HDR_SIZE = 2;
    public static final int CTRL_ACK_SIZE = 1;
    public static final int CTRL_OK = 0;
    public static final int CTRL_ERR = 1;

    public static final int CTRL_RX = 0;
    public static final int CTRL_RX_PROMISC = 0;
    public static final int CTRL_RX_ALLMULTI = 1;
    public static final int CTRL_RX_ALLUNI = 2;
    public static final int CTRL_RX_NOMULTI = 3;
    public static final int CTRL_RX_NOUNI = 4;
    public static final int CTRL_RX_NOBCAST = 5;

    public static final int CTRL_MAC = 1;
    public static final int CTRL_MAC_TABLE_SET = 0;
    public static final int CTRL_MAC_ADDR_SET = 1;
    /** TABLE_SET data is two tables, unicast then multicast, each a le32 entry count then 6-byte addresses. */
    public static final int CTRL_MAC_TABLE_ENTRIES_SIZE = 4;

    public static final int CTRL_VLAN = 2;
    public static final int CTRL_VLAN_ADD = 0;
    public static final int CTRL_VLAN_DEL = 1;

    public static final int CTRL_ANNOUNCE = 3;
    public static final int CTRL_ANNOUNCE_ACK = 0;

    public static final int CTRL_MQ = 4;
    public static final int CTRL_MQ_VQ_PAIRS_SET = 0;
    public static final int CTRL_MQ_RSS_CONFIG = 1;
    public static final int CTRL_MQ_HASH_CONFIG = 2;
    public static final int CTRL_MQ_VQ_PAIRS_MIN = 1;
    public static final int CTRL_MQ_VQ_PAIRS_MAX = 0x8000;

    public static final int CTRL_GUEST_OFFLOADS = 5;
    public static final int CTRL_GUEST_OFFLOADS_SET = 0;

    private NetSpec() {
    }

    /** Queue index of receive queue {@code pair}: rx and tx alternate, rx first. */
    public static int rxQueue(int pair) {
        return 2 * pair;
    }

    /** Queue index of transmit queue {@code pair}. */
    public static int txQueue(int pair) {
        return 2 * pair + 1;
    }

    /** The control queue follows the last pair the device offers. */
    public static int ctrlQueue(int maxPairs) {
        return 2 * maxPairs;
    }
}

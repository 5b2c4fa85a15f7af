package io.umdev.vhost.protocol;

/**
 * Bits of the protocol feature word (GET/SET_PROTOCOL_FEATURES), and the two vhost bits that share the
 * virtio feature word (GET/SET_FEATURES) but are not virtio features.
 */
public final class ProtocolFeature {
    public static final int MQ = 0;
    public static final int LOG_SHMFD = 1;
    public static final int REPLY_ACK = 3;
    public static final int CONFIG = 9;
    public static final int RESET_DEVICE = 13;
    public static final int STATUS = 16;

    /** VHOST_F_LOG_ALL in the feature word: log every write to guest memory. */
    public static final int F_LOG_ALL = 26;
    /** VHOST_USER_F_PROTOCOL_FEATURES in the feature word: the protocol feature messages exist. */
    public static final int F_PROTOCOL_FEATURES = 30;

    private ProtocolFeature() {
    }

    public static long bit(int bit) {
        return 1L << bit;
    }

    public static boolean has(long features, int bit) {
        return (features & bit(bit)) != 0;
    }
}

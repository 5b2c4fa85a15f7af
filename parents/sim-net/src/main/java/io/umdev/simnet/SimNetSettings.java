package io.umdev.simnet;

import io.umdev.mdev.AttributeSpec;
import io.umdev.mdev.Attributes;
import io.umdev.mdev.MacAddress;
import io.umdev.simnet.l2.Ethernet;
import io.umdev.virtio.transport.Polling;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

/**
 * The attributes of a sim-net instance, typed: its station address, MTU, queue pairs, mode and switch.
 *
 * @param mac the station address, 48 bits
 * @param mtu the link MTU, 68..65535
 * @param maxQueuePairs queue pairs offered (max_virtqueue_pairs)
 * @param mode loopback or switch
 * @param switchName the switch joined in switch mode
 */
record SimNetSettings(long mac, int mtu, int maxQueuePairs, Mode mode, String switchName) {
    /** Where transmitted frames go. */
    enum Mode {
        /** Back to the sender's own receive queues, like vdpa_sim_net. */
        LOOPBACK,
        /** To the other instances on the same named switch. */
        SWITCH;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    static final String MAC = "mac";
    static final String MTU = "mtu";
    static final String MAX_VQP = "max_vqp";
    static final String MODE = "mode";
    static final String SWITCH = "switch";

    static final int MIN_MTU = 68;
    static final int MAX_MTU = 65535;
    static final int DEFAULT_MTU = 1500;
    /** Queue pairs one instance may offer: 2 x 16 data queues and the control queue. */
    static final int MAX_QUEUE_PAIRS = 16;
    static final String DEFAULT_SWITCH = "default";

    /** The attributes of type {@code net}, in display order. */
    static final List<AttributeSpec> ATTRIBUTES = List.of(
            AttributeSpec.mac(MAC, "station address; a locally administered one derived from the instance UUID "
                    + "if omitted"),
            AttributeSpec.integer(MTU, "link MTU in bytes").withRange(MIN_MTU, MAX_MTU)
                    .withDefault(Integer.toString(DEFAULT_MTU)),
            AttributeSpec.integer(MAX_VQP, "queue pairs offered (max_virtqueue_pairs)").withRange(1, MAX_QUEUE_PAIRS)
                    .withDefault("1"),
            AttributeSpec.choice(MODE, "loopback: frames sent come back; switch: frames go to the instances on "
                    + "the same switch", List.of(Mode.LOOPBACK.label(), Mode.SWITCH.label()))
                    .withDefault(Mode.SWITCH.label()),
            AttributeSpec.string(SWITCH, "name of the switch joined in switch mode").withRange(1, 64)
                    .withDefault(DEFAULT_SWITCH),
            Polling.attribute());

    static SimNetSettings of(UUID uuid, Attributes attributes) {
        long mac = attributes.get(MAC, MacAddress.class).map(MacAddress::value).orElseGet(() -> derivedMac(uuid));
        return new SimNetSettings(mac, (int) attributes.getLong(MTU), (int) attributes.getLong(MAX_VQP),
                Mode.valueOf(attributes.getString(MODE).toUpperCase(Locale.ROOT)), attributes.getString(SWITCH));
    }

    /**
     * A locally administered unicast address from the UUID: first octet 02, the other five from a hash,
     * so an instance keeps its address across restarts and two instances almost never share one.
     */
    static long derivedMac(UUID uuid) {
        long mixed = (uuid.getMostSignificantBits() * 0x9E37_79B9_7F4A_7C15L) ^ uuid.getLeastSignificantBits();
        mixed ^= mixed >>> 29;
        mixed *= 0xBF58_476D_1CE4_E5B9L;
        mixed ^= mixed >>> 32;
        long low40 = mixed & ((1L << 40) - 1);
        return (Ethernet.LOCAL_BIT | low40) & ~Ethernet.GROUP_BIT;
    }
}

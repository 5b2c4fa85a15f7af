package io.umdev.simnet;

import io.umdev.simnet.l2.Ethernet;
import io.umdev.simnet.l2.RxFilter;
import io.umdev.virtio.spec.NetSpec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The virtio-net control-queue commands a Linux guest sends, and what they do to a device: the RX
 * class (promiscuous, all-multicast, and with RX_EXTRA all-unicast, no-multicast, no-unicast,
 * no-broadcast), MAC (TABLE_SET, ADDR_SET), VLAN (ADD, DEL) and MQ (VQ_PAIRS_SET). Each command is
 * answered {@link NetSpec#CTRL_OK} or {@link NetSpec#CTRL_ERR}: ERR for a class or command the driver
 * did not negotiate, a command this device does not implement, or a malformed one (wrong length, a
 * table whose counts do not match its size, a VLAN ID or a pair count out of range). A refused command
 * changes nothing.
 *
 * <p>Works on a private copy of the command's bytes, taken before parsing, so the driver cannot change
 * a command while it is checked (the anti-TOCTOU rule QEMU's shadow control queue follows). Runs on
 * the control queue's thread; the resulting {@link RxFilter} is published to the data path whole.
 */
final class NetControl {
    /** What a command acts upon. */
    interface Target {
        RxFilter filter();

        void setFilter(RxFilter filter);

        /** The station address changed (MAC ADDR_SET): the config space reports it from now on. */
        void setMac(long mac);

        /** Carry traffic on {@code pairs} queue pairs; already checked to be 1..max. */
        void setQueuePairs(int pairs);
    }

    private static final Logger LOG = LoggerFactory.getLogger(NetControl.class);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final String name;
    private final int maxPairs;

    /**
     * @param name the device, for log lines
     * @param maxPairs the queue pairs the device offers (max_virtqueue_pairs)
     */
    NetControl(String name, int maxPairs) {
        this.name = name;
        this.maxPairs = maxPairs;
    }

    /**
     * Carries out one command.
     *
     * @param command the device-readable bytes: class, command, data
     * @param length how many of them there are
     * @param features the features the driver negotiated
     * @return {@link NetSpec#CTRL_OK} or {@link NetSpec#CTRL_ERR}
     */
    int execute(MemorySegment command, int length, long features, Target target) {
        if (length < NetSpec.CTRL_HDR_SIZE) {
            return refuse("a command shorter than its class and code", length);
        }
        int commandClass = Byte.toUnsignedInt(command.get(ValueLayout.JAVA_BYTE, NetSpec.CTRL_HDR_CLASS));
        int code = Byte.toUnsignedInt(command.get(ValueLayout.JAVA_BYTE, NetSpec.CTRL_HDR_COMMAND));
        MemorySegment data = command.asSlice(NetSpec.CTRL_HDR_SIZE, length - NetSpec.CTRL_HDR_SIZE);
        return switch (commandClass) {
            case NetSpec.CTRL_RX -> rx(code, data, features, target);
            case NetSpec.CTRL_MAC -> mac(code, data, features, target);
            case NetSpec.CTRL_VLAN -> vlan(code, data, features, target);
            case NetSpec.CTRL_MQ -> mq(code, data, features, target);
            default -> refuse("class " + commandClass + " is not implemented", code);
        };
    }

    private static boolean has(long features, int bit) {
        return (features & (1L << bit)) != 0;
    }

    private int refuse(String why, long detail) {
        LOG.debug("{}: control command refused: {} ({})", name, why, detail);
        return NetSpec.CTRL_ERR;
    }

    private int rx(int code, MemorySegment data, long features, Target target) {
        if (!has(features, NetSpec.F_CTRL_RX)) {
            return refuse("RX class without CTRL_RX", code);
        }
        boolean extra = code >= NetSpec.CTRL_RX_ALLUNI && code <= NetSpec.CTRL_RX_NOBCAST;
        if (extra && !has(features, NetSpec.F_CTRL_RX_EXTRA)) {
            return refuse("RX command without CTRL_RX_EXTRA", code);
        }
        if (data.byteSize() != Byte.BYTES) {
            return refuse("RX command data is one byte", data.byteSize());
        }
        boolean on = data.get(ValueLayout.JAVA_BYTE, 0) != 0;
        RxFilter filter = target.filter();
        RxFilter next = switch (code) {
            case NetSpec.CTRL_RX_PROMISC -> filter.withPromiscuous(on);
            case NetSpec.CTRL_RX_ALLMULTI -> filter.withAllMulticast(on);
            case NetSpec.CTRL_RX_ALLUNI -> filter.withAllUnicast(on);
            case NetSpec.CTRL_RX_NOMULTI -> filter.withNoMulticast(on);
            case NetSpec.CTRL_RX_NOUNI -> filter.withNoUnicast(on);
            case NetSpec.CTRL_RX_NOBCAST -> filter.withNoBroadcast(on);
            default -> null;
        };
        if (next == null) {
            return refuse("unknown RX command", code);
        }
        target.setFilter(next);
        return NetSpec.CTRL_OK;
    }

    private int mac(int code, MemorySegment data, long features, Target target) {
        switch (code) {
            case NetSpec.CTRL_MAC_ADDR_SET -> {
                if (!has(features, NetSpec.F_CTRL_MAC_ADDR)) {
                    return refuse("ADDR_SET without CTRL_MAC_ADDR", code);
                }
                if (data.byteSize() != Ethernet.ADDRESS_LENGTH) {
                    return refuse("ADDR_SET data is one address", data.byteSize());
                }
                long mac = Ethernet.address(data, 0);
                if (Ethernet.isGroup(mac) || mac == 0) {
                    return refuse("a station address must be unicast and not zero", mac);
                }
                target.setFilter(target.filter().withMac(mac));
                target.setMac(mac);
                return NetSpec.CTRL_OK;
            }
            case NetSpec.CTRL_MAC_TABLE_SET -> {
                if (!has(features, NetSpec.F_CTRL_RX)) {
                    return refuse("TABLE_SET without CTRL_RX", code);
                }
                long[] unicast = table(data, 0);
                if (unicast == null) {
                    return refuse("malformed unicast table", data.byteSize());
                }
                long multicastAt = NetSpec.CTRL_MAC_TABLE_ENTRIES_SIZE + (long) unicast.length * Ethernet.ADDRESS_LENGTH;
                long[] multicast = table(data, multicastAt);
                if (multicast == null || multicastAt + NetSpec.CTRL_MAC_TABLE_ENTRIES_SIZE
                        + (long) multicast.length * Ethernet.ADDRESS_LENGTH != data.byteSize()) {
                    return refuse("malformed multicast table", data.byteSize());
                }
                target.setFilter(target.filter().withTables(unicast, multicast));
                return NetSpec.CTRL_OK;
            }
            default -> {
                return refuse("unknown MAC command", code);
            }
        }
    }

    /** A {@code le32 entries; u8 macs[entries][6]} table at {@code at}, or null if it does not fit. */
    private static long[] table(MemorySegment data, long at) {
        if (at + NetSpec.CTRL_MAC_TABLE_ENTRIES_SIZE > data.byteSize()) {
            return null;
        }
        long entries = Integer.toUnsignedLong(data.get(LE32, at));
        long first = at + NetSpec.CTRL_MAC_TABLE_ENTRIES_SIZE;
        if (entries > (data.byteSize() - first) / Ethernet.ADDRESS_LENGTH) {
            return null;
        }
        long[] table = new long[(int) entries];
        for (int i = 0; i < table.length; i++) {
            table[i] = Ethernet.address(data, first + (long) i * Ethernet.ADDRESS_LENGTH);
        }
        return table;
    }

    private int vlan(int code, MemorySegment data, long features, Target target) {
        if (!has(features, NetSpec.F_CTRL_VLAN)) {
            return refuse("VLAN class without CTRL_VLAN", code);
        }
        if (code != NetSpec.CTRL_VLAN_ADD && code != NetSpec.CTRL_VLAN_DEL) {
            return refuse("unknown VLAN command", code);
        }
        if (data.byteSize() != Short.BYTES) {
            return refuse("VLAN command data is one le16", data.byteSize());
        }
        int vid = Short.toUnsignedInt(data.get(LE16, 0));
        if (vid >= Ethernet.VLAN_IDS) {
            return refuse("VLAN ID out of range", vid);
        }
        target.setFilter(target.filter().withVlan(vid, code == NetSpec.CTRL_VLAN_ADD));
        return NetSpec.CTRL_OK;
    }

    private int mq(int code, MemorySegment data, long features, Target target) {
        if (!has(features, NetSpec.F_MQ)) {
            return refuse("MQ class without MQ", code);
        }
        if (code != NetSpec.CTRL_MQ_VQ_PAIRS_SET) {
            return refuse("unknown or not offered MQ command", code);
        }
        if (data.byteSize() != Short.BYTES) {
            return refuse("VQ_PAIRS_SET data is one le16", data.byteSize());
        }
        int pairs = Short.toUnsignedInt(data.get(LE16, 0));
        if (pairs < NetSpec.CTRL_MQ_VQ_PAIRS_MIN || pairs > maxPairs) {
            return refuse("queue pairs out of 1.." + maxPairs, pairs);
        }
        target.setQueuePairs(pairs);
        return NetSpec.CTRL_OK;
    }
}

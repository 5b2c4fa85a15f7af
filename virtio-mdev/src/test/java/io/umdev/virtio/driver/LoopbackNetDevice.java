package io.umdev.virtio.driver;

import io.umdev.mdev.MacAddress;
import io.umdev.virtio.ring.DescriptorChain;
import io.umdev.virtio.spec.NetSpec;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.transport.RequestHandler;
import io.umdev.virtio.transport.SoftwareVirtioDevice;
import io.umdev.vfiouser.dma.DmaTable;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A virtio-net loopback on the software device core: each frame sent on transmit queue {@code p} is
 * copied into the next buffer of receive queue {@code p}, header and all. Frames wait in a bounded
 * per-pair mailbox while the receive ring is empty; when the mailbox is full the transmit queue waits
 * too. The control queue applies MQ VQ_PAIRS_SET, RX PROMISC/ALLMULTI and MAC ADDR_SET and remembers
 * them. Everything runs on the device's one worker thread, so the mailboxes need no lock.
 */
public final class LoopbackNetDevice extends SoftwareVirtioDevice {
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final long FEATURES = VirtioFeature.bits(NetSpec.F_MAC, NetSpec.F_MTU, NetSpec.F_STATUS, NetSpec.F_CTRL_VQ,
            NetSpec.F_CTRL_RX, NetSpec.F_MQ, NetSpec.F_CTRL_MAC_ADDR);
    private static final int MAILBOX_FRAMES = 64;
    private static final int MAX_BUFFER = 65536;

    private final int maxPairs;
    private final List<ArrayDeque<byte[]>> mailboxes = new ArrayList<>();
    final AtomicInteger activePairs = new AtomicInteger(1);
    final AtomicInteger promiscuous = new AtomicInteger(-1);
    final AtomicInteger allMulticast = new AtomicInteger(-1);
    final AtomicLong macSet = new AtomicLong(-1);
    final AtomicLong framesLooped = new AtomicLong();

    public LoopbackNetDevice(DmaTable dma, MacAddress mac, int mtu, int maxPairs, int queueSize) {
        this(dma, mac, mtu, maxPairs, queueSize, 0);
    }

    /** @param withoutFeatures class or engine features not to offer */
    LoopbackNetDevice(DmaTable dma, MacAddress mac, int mtu, int maxPairs, int queueSize, long withoutFeatures) {
        super(definition(maxPairs, queueSize, withoutFeatures), dma);
        this.maxPairs = maxPairs;
        for (int p = 0; p < maxPairs; p++) {
            mailboxes.add(new ArrayDeque<>());
        }
        byte[] octets = mac.octets();
        updateConfig(c -> {
            MemorySegment.copy(MemorySegment.ofArray(octets), 0, c, NetSpec.CONFIG_MAC, NetSpec.MAC_BYTES);
            c.set(LE16, NetSpec.CONFIG_STATUS, (short) NetSpec.STATUS_LINK_UP);
            c.set(LE16, NetSpec.CONFIG_MAX_VIRTQUEUE_PAIRS, (short) maxPairs);
            c.set(LE16, NetSpec.CONFIG_MTU, (short) mtu);
        });
    }

    private static Definition definition(int maxPairs, int queueSize, long withoutFeatures) {
        Definition d = Definition.of("loopback-net", VirtioId.NET, FEATURES, 2 * maxPairs + 1, queueSize,
                NetSpec.CONFIG_SIZE);
        return d.withFeatures(d.features() & ~withoutFeatures);
    }

    /** Takes the link down or up, as a cable would (a config change). */
    void setLink(boolean up) {
        updateConfig(c -> c.set(LE16, NetSpec.CONFIG_STATUS, (short) (up ? NetSpec.STATUS_LINK_UP : 0)));
    }

    @Override
    protected void onReset() {
        for (ArrayDeque<byte[]> m : mailboxes) {
            m.clear();
        }
        activePairs.set(1);
    }

    @Override
    protected RequestHandler requestHandler(int q) {
        if (q == NetSpec.ctrlQueue(maxPairs)) {
            return this::control;
        }
        int pair = q / 2;
        return q == NetSpec.rxQueue(pair) ? chain -> receive(pair, chain) : chain -> transmit(pair, chain);
    }

    private int transmit(int pair, DescriptorChain chain) {
        ArrayDeque<byte[]> mailbox = mailboxes.get(pair);
        if (mailbox.size() >= MAILBOX_FRAMES) {
            return RequestHandler.DEFER;
        }
        long length = chain.readableLength();
        if (length < NetSpec.HDR_SIZE || length > MAX_BUFFER) {
            needsReset("a transmitted buffer of " + length + " bytes");
            return 0;
        }
        byte[] frame = new byte[(int) length];
        chain.readFrom(MemorySegment.ofArray(frame));
        mailbox.add(frame);
        requestService(NetSpec.rxQueue(pair));
        return 0;
    }

    private int receive(int pair, DescriptorChain chain) {
        byte[] frame = mailboxes.get(pair).poll();
        if (frame == null) {
            return RequestHandler.DEFER;
        }
        MemorySegment buffer = MemorySegment.ofArray(frame);
        // One buffer per frame: the header's num_buffers says so.
        buffer.set(LE16, NetSpec.HDR_NUM_BUFFERS, (short) 1);
        long written = chain.writeTo(buffer);
        framesLooped.incrementAndGet();
        requestService(NetSpec.txQueue(pair));
        return (int) written;
    }

    private int control(DescriptorChain chain) {
        int commandClass = chain.readU8(NetSpec.CTRL_HDR_CLASS);
        int command = chain.readU8(NetSpec.CTRL_HDR_COMMAND);
        long data = NetSpec.CTRL_HDR_SIZE;
        int ack = NetSpec.CTRL_ERR;
        if (commandClass == NetSpec.CTRL_MQ && command == NetSpec.CTRL_MQ_VQ_PAIRS_SET) {
            int pairs = chain.readLe16(data);
            if (pairs >= 1 && pairs <= maxPairs) {
                activePairs.set(pairs);
                ack = NetSpec.CTRL_OK;
            }
        } else if (commandClass == NetSpec.CTRL_RX && command == NetSpec.CTRL_RX_PROMISC) {
            promiscuous.set(chain.readU8(data));
            ack = NetSpec.CTRL_OK;
        } else if (commandClass == NetSpec.CTRL_RX && command == NetSpec.CTRL_RX_ALLMULTI) {
            allMulticast.set(chain.readU8(data));
            ack = NetSpec.CTRL_OK;
        } else if (commandClass == NetSpec.CTRL_MAC && command == NetSpec.CTRL_MAC_ADDR_SET) {
            byte[] octets = new byte[NetSpec.MAC_BYTES];
            if (chain.read(data, MemorySegment.ofArray(octets), 0, octets.length) == octets.length) {
                long value = 0;
                for (byte b : octets) {
                    value = (value << Byte.SIZE) | Byte.toUnsignedInt(b);
                }
                macSet.set(value);
                updateConfig(c -> MemorySegment.copy(MemorySegment.ofArray(octets), 0, c, NetSpec.CONFIG_MAC,
                        NetSpec.MAC_BYTES));
                ack = NetSpec.CTRL_OK;
            }
        }
        chain.writeU8(0, ack);
        return NetSpec.CTRL_ACK_SIZE;
    }
}

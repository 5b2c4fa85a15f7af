package io.umdev.virtio.testing;

import io.umdev.virtio.ring.DescriptorChain;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.transport.RequestHandler;
import io.umdev.virtio.transport.SoftwareVirtioDevice;
import io.umdev.virtio.transport.VirtioException;
import io.umdev.vfiouser.dma.DmaTable;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small real device for tests of the software core: queue 0 echoes each buffer's readable bytes into
 * its writable part; queue 1 is a "receive" queue that fills a buffer only when a token was posted
 * with {@link #post()} and defers otherwise. Config space is 8 bytes, the first of which tests change.
 */
public final class EchoDevice extends SoftwareVirtioDevice {
    public static final int DEVICE_ID = 0x7E57;
    public static final int FEATURE_FANCY = 0;
    public static final int FEATURE_FORBIDDEN_ALONE = 1;
    public static final int CONFIG_SIZE = 8;
    public static final byte RX_FILL = 0x5A;

    private final AtomicInteger tokens = new AtomicInteger();
    public volatile int starts;
    public volatile int stops;
    public volatile int resets;

    public EchoDevice(DmaTable table, int queueMaxSize) {
        this(table, queueMaxSize, 1);
    }

    /** With {@code groups} > 1, queue 1 is alone in group 1 and there are as many address spaces as groups. */
    public EchoDevice(DmaTable table, int queueMaxSize, int groups) {
        super(Definition.of("echo", DEVICE_ID, (1L << FEATURE_FANCY) | (1L << FEATURE_FORBIDDEN_ALONE), 2, queueMaxSize,
                CONFIG_SIZE).withGroups(groups, groups), table);
        updateConfig(c -> c.set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
    }

    /**
     * What a driver does first and last when it brings the device up with queue 0 only: negotiates
     * {@code features}, lays out split rings of {@code size} at {@code base}, enables them and sets
     * DRIVER_OK. Returns the rings' driver side.
     */
    public SplitDriver startWithSplitQueue(long features, GuestMemory memory, long base, int size) {
        setStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        setDriverFeatures(features);
        setStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        SplitDriver d = new SplitDriver(memory, base, size);
        setQueueSize(0, size);
        setQueueAddress(0, d.desc, d.avail, d.used);
        setQueueReady(0, true);
        setStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
        return d;
    }

    @Override
    public int queueGroup(int q) {
        super.queueGroup(q);
        return queueGroupCount() > 1 && q == 1 ? 1 : 0;
    }

    /** Feature FORBIDDEN_ALONE needs FANCY. */
    @Override
    protected void validateFeatures(long features) {
        if ((features & (1L << FEATURE_FORBIDDEN_ALONE)) != 0 && (features & (1L << FEATURE_FANCY)) == 0) {
            throw VirtioException.invalid("FORBIDDEN_ALONE needs FANCY");
        }
    }

    @Override
    protected RequestHandler requestHandler(int q) {
        return q == 0 ? this::echo : this::receive;
    }

    private int echo(DescriptorChain chain) {
        long n = Math.min(chain.readableLength(), chain.writableLength());
        long done = 0;
        // Copy through the chain's segments, so multi-segment chains exercise both sides.
        for (int i = 0; i < chain.readableCount() && done < n; i++) {
            long len = Math.min(chain.length(i) & 0xFFFF_FFFFL, n - done);
            chain.write(done, chain.memory(i), chain.memoryOffset(i), len);
            done += len;
        }
        return (int) done;
    }

    private int receive(DescriptorChain chain) {
        if (tokens.get() == 0) {
            return RequestHandler.DEFER;
        }
        tokens.decrementAndGet();
        MemorySegment fill = MemorySegment.ofArray(new byte[(int) chain.writableLength()]);
        fill.fill(RX_FILL);
        return (int) chain.writeTo(fill);
    }

    /** One frame "arrives" for queue 1. */
    public void post() {
        tokens.incrementAndGet();
        requestService(1);
    }

    public void setConfigByte(byte value) {
        updateConfig(c -> c.set(ValueLayout.JAVA_BYTE, 0, value));
    }

    @Override
    protected void onStart() {
        starts++;
    }

    @Override
    protected void onStop() {
        stops++;
    }

    @Override
    protected void onReset() {
        resets++;
        tokens.set(0);
    }
}

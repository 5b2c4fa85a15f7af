package io.umdev.vhost;

import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.virtio.ring.DescriptorChain;
import io.umdev.virtio.transport.RequestHandler;
import io.umdev.virtio.transport.SoftwareVirtioDevice;
import java.lang.foreign.ValueLayout;

/**
 * A small real device for the backend's tests: every queue echoes each buffer's readable bytes into its
 * writable part. Config space is 16 bytes, byte i holding i + 1.
 */
final class EchoDevice extends SoftwareVirtioDevice {
    static final int DEVICE_ID = 0x7E57;
    static final int FEATURE_FANCY = 0;
    static final int CONFIG_SIZE = 16;
    static final int QUEUES = 2;

    EchoDevice(DmaTable table, int queueMaxSize) {
        super(Definition.of("echo", DEVICE_ID, 1L << FEATURE_FANCY, QUEUES, queueMaxSize, CONFIG_SIZE), table);
        updateConfig(c -> {
            for (int i = 0; i < CONFIG_SIZE; i++) {
                c.set(ValueLayout.JAVA_BYTE, i, (byte) (i + 1));
            }
        });
    }

    @Override
    protected RequestHandler requestHandler(int q) {
        return EchoDevice::echo;
    }

    private static int echo(DescriptorChain chain) {
        long n = Math.min(chain.readableLength(), chain.writableLength());
        long done = 0;
        for (int i = 0; i < chain.readableCount() && done < n; i++) {
            long len = Math.min(chain.length(i) & 0xFFFF_FFFFL, n - done);
            chain.write(done, chain.memory(i), chain.memoryOffset(i), len);
            done += len;
        }
        return (int) done;
    }
}

package io.umdev.virtio.transport;

import static io.umdev.virtio.spec.DeviceStatus.NEEDS_RESET;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.testing.Await;
import io.umdev.virtio.testing.EchoDevice;
import io.umdev.virtio.testing.GuestMemory;
import io.umdev.virtio.testing.SplitDriver;
import io.umdev.vfiouser.dma.DmaTable;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A client that shrinks the file behind its DMA map under a running device (the server's accesses then
 * fault with SIGBUS, which HotSpot reports as an InternalError): only that device goes NEEDS_RESET, its
 * worker lives on and serves the same client again after a reset on fresh memory; another device never
 * notices.
 */
class ShrunkMemoryTest {
    private static final long IOVA = 0x10000;
    private static final long SIZE = 1 << 20;
    private static final int QSIZE = 16;
    private static final long BUFFERS = IOVA + 0x40000;
    private static final long FEATURES = VirtioFeature.bit(VirtioFeature.VERSION_1);

    /** Echoes request n through queue 0 and waits for it. */
    private static void echo(GuestMemory memory, SplitDriver d, EchoDevice device, int n) {
        long in = BUFFERS + n * 64L;
        memory.at(in, 8).fill((byte) n);
        d.offer(d.chain(new long[] {in, 8, 0}, new long[] {in + 32, 8, 1}));
        device.kick(0);
        Await.until("request " + n + " used", () -> d.usedIdx() == n + 1);
        assertTrue(memory.unchanged(in + 32, 8, (byte) n), "echoed");
    }

    @ParameterizedTest(name = "polling {0} µs")
    @ValueSource(longs = {0, 1000})
    void onlyTheDeviceWhoseClientShrankItsMemoryNeedsAResetAndItsWorkerLivesOn(long pollMicros) throws Exception {
        try (DmaTable table = new DmaTable(4); DmaTable otherTable = new DmaTable(4)) {
            EchoDevice device = new EchoDevice(table, QSIZE);
            EchoDevice other = new EchoDevice(otherTable, QSIZE);
            device.setPollLimit(Duration.ofNanos(pollMicros * 1000));
            try (GuestMemory otherMemory = GuestMemory.map(otherTable, IOVA, SIZE)) {
                SplitDriver od = other.startWithSplitQueue(FEATURES, otherMemory, IOVA, QSIZE);
                try (GuestMemory memory = GuestMemory.map(table, IOVA, SIZE)) {
                    SplitDriver d = device.startWithSplitQueue(FEATURES, memory, IOVA, QSIZE);
                    echo(memory, d, device, 0);

                    memory.shrinkFile();
                    device.kick(0);
                    Await.until("NEEDS_RESET", () -> (device.status() & NEEDS_RESET) != 0);
                    assertTrue(device.needsResetReason().contains("shrunk"), device::needsResetReason);
                    echo(otherMemory, od, other, 0);
                    device.reset();
                    table.unmapAll();
                }
                // The same client comes back with fresh memory: the same worker serves it.
                try (GuestMemory fresh = GuestMemory.map(table, IOVA, SIZE)) {
                    SplitDriver d = device.startWithSplitQueue(FEATURES, fresh, IOVA, QSIZE);
                    echo(fresh, d, device, 0);
                    echo(fresh, d, device, 1);
                }
                echo(otherMemory, od, other, 1);
                assertEquals(0, other.status() & NEEDS_RESET);
            } finally {
                device.close();
                other.close();
            }
        }
    }
}

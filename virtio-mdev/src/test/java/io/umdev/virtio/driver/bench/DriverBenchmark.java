package io.umdev.virtio.driver.bench;

import io.umdev.mdev.MacAddress;
import io.umdev.virtio.driver.BlockCompletion;
import io.umdev.virtio.driver.BlockQueue;
import io.umdev.virtio.driver.DriverOptions;
import io.umdev.virtio.driver.InterruptMode;
import io.umdev.virtio.driver.LoopbackNetDevice;
import io.umdev.virtio.driver.RamDiskDevice;
import io.umdev.virtio.driver.RingLayout;
import io.umdev.virtio.driver.VirtioBlockDisk;
import io.umdev.virtio.driver.VirtioDriverException;
import io.umdev.virtio.driver.VirtioNetPort;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.vfiouser.dma.DmaTable;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Requests per second through the whole in-process path: the driver's rings in its memfd memory, the
 * device's DMA table, {@code SoftwareVirtioDevice}'s worker thread and engine, and back. Two threads
 * (the benchmark's and the device's worker), so on a 2-vCPU machine the numbers move with the load.
 *
 * <ul>
 * <li>{@code blockRead4k}: 4 KiB reads from a RAM disk, {@value #DEPTH} in flight, through the
 * asynchronous {@link BlockQueue}; one op = one completed request.
 * <li>{@code netLoopback64}: 64-byte frames sent and received back through a loopback port, up to
 * {@value #DEPTH} in flight; one op = one frame out and back.
 * <li>{@code copyBaseline4k}: the two 4 KiB copies a read costs (device into bounce buffer, bounce
 * buffer into the caller's), on one thread: what the path costs beyond moving the bytes.
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms512m", "-Xmx512m"})
public class DriverBenchmark {
    static final int DEPTH = 32;
    static final int BATCH = 256;
    static final int QUEUE_SIZE = 256;
    private static final int BLOCK = 4096;
    private static final int FRAME = 64;
    private static final long DISK_BYTES = 64L << 20;

    @Param({"split", "packed"})
    public String layout;

    @Param({"poll", "eventfd"})
    public String interrupts;

    private DmaTable table;
    private RamDiskDevice disk;
    private VirtioBlockDisk blockDriver;
    private BlockQueue queue;
    private LoopbackNetDevice net;
    private VirtioNetPort port;
    private final MemorySegment readTarget = MemorySegment.ofArray(new byte[BLOCK]);
    private final MemorySegment frame = MemorySegment.ofArray(new byte[FRAME]);
    private MemorySegment received;
    private final MemorySegment copySource = MemorySegment.ofArray(new byte[BLOCK]);
    private final MemorySegment copyMiddle = MemorySegment.ofArray(new byte[BLOCK]);
    private final BlockCompletion sink = (cookie, status) -> {
        if (status != BlkSpec.S_OK) {
            throw new IllegalStateException("read failed with status " + status);
        }
    };
    private long nextSector;
    private int framesInFlight;

    @Setup(Level.Trial)
    public void setUp() throws VirtioDriverException {
        DriverOptions options = DriverOptions.defaults()
                .withRingLayout("packed".equals(layout) ? RingLayout.PACKED : RingLayout.SPLIT)
                .withInterruptMode("eventfd".equals(interrupts) ? InterruptMode.EVENTFD : InterruptMode.POLL)
                .withMaxQueueSize(QUEUE_SIZE);
        table = new DmaTable(16);
        disk = new RamDiskDevice(table, DISK_BYTES, 1, QUEUE_SIZE, "bench");
        blockDriver = VirtioBlockDisk.open(disk, options, BLOCK);
        queue = blockDriver.queue(0);
        net = new LoopbackNetDevice(table, MacAddress.parse("02:00:00:00:00:01"), 1500, 1, QUEUE_SIZE);
        port = VirtioNetPort.open(net, options);
        received = MemorySegment.ofArray(new byte[port.maxFrameSize()]);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        port.close();
        net.close();
        blockDriver.close();
        disk.close();
        table.close();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int blockRead4k() throws VirtioDriverException {
        int done = 0;
        while (done < BATCH) {
            boolean added = false;
            while (queue.inFlight() < DEPTH && queue.canSubmit()) {
                queue.submitRead(nextSector, readTarget, 0);
                // A stride that visits the whole disk, 4 KiB-aligned.
                nextSector = (nextSector + 8 * 7919) % (DISK_BYTES / BlkSpec.SECTOR_SIZE);
                added = true;
            }
            if (added) {
                queue.kick();
            }
            int n = queue.complete(sink);
            if (n == 0) {
                queue.await(1, TimeUnit.SECONDS);
            }
            done += n;
        }
        return done;
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int netLoopback64() throws VirtioDriverException {
        int done = 0;
        while (done < BATCH) {
            while (framesInFlight < DEPTH && port.send(0, frame)) {
                framesInFlight++;
            }
            int length = port.receive(0, received);
            if (length < 0) {
                port.awaitReceive(0, 1, TimeUnit.SECONDS);
                continue;
            }
            framesInFlight--;
            done++;
        }
        return done;
    }

    @Benchmark
    public MemorySegment copyBaseline4k() {
        MemorySegment.copy(copySource, 0, copyMiddle, 0, BLOCK);
        MemorySegment.copy(copyMiddle, 0, readTarget, 0, BLOCK);
        return readTarget;
    }
}

package io.umdev.simnet;

import static io.umdev.simnet.SimNetFixture.frame;
import static io.umdev.simnet.SimNetFixture.mac;
import static io.umdev.simnet.SimNetFixture.receive;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.umdev.mdev.MdevInstance;
import io.umdev.simnet.l2.Ethernet;
import io.umdev.virtio.driver.VirtioNetPort;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * The devices' worker threads allocate nothing per frame: measured with the JVM's per-thread
 * allocation counter over many frames, in loopback and across a switch.
 */
class DataPathAllocationTest {
    private static final int ROUNDS = 15;
    private static final int FRAMES = 20_000;
    /** Far below one byte per frame: what a warm data path may allocate in a round, for any reason. */
    private static final long BUDGET_BYTES = FRAMES / 4;

    private static com.sun.management.ThreadMXBean threads() {
        return (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    }

    private static Thread worker(MdevInstance instance) {
        String name = "virtio-sim-net/" + instance.uuid();
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no worker thread " + name));
    }

    private static void exchange(VirtioNetPort from, VirtioNetPort to, MemorySegment frame, MemorySegment into,
            int count) throws Exception {
        for (int i = 0; i < count; i++) {
            while (!from.send(0, frame)) {
                from.awaitTransmit(0, 100, java.util.concurrent.TimeUnit.MILLISECONDS);
            }
            receive(to, 0, into);
        }
    }

    private static long allocated(Thread... workers) {
        long sum = 0;
        for (Thread t : workers) {
            sum += threads().getThreadAllocatedBytes(t.threadId());
        }
        return sum;
    }

    @Test
    void loopbackAndSwitchWorkersAllocateNothingPerFrame() throws Exception {
        assumeTrue(threads().isThreadAllocatedMemorySupported() && threads().isThreadAllocatedMemoryEnabled());
        try (SimNetFixture fixture = new SimNetFixture()) {
            MdevInstance loop = fixture.create(SimNetSettings.MODE, "loopback");
            MdevInstance a = fixture.create();
            MdevInstance b = fixture.create();
            VirtioNetPort loopPort = fixture.open(loop);
            VirtioNetPort portA = fixture.open(a);
            VirtioNetPort portB = fixture.open(b);
            MemorySegment into = MemorySegment.ofArray(new byte[2048]);
            MemorySegment toSelf = frame(mac(loopPort), SimNetFixture.PEER, 1000, 1);
            MemorySegment toB = frame(mac(portB), mac(portA), 1000, 2);
            portB.send(0, frame(Ethernet.BROADCAST, mac(portB), 60, 3)); // b is learned
            receive(portA, 0, into);

            Thread[] workers = {worker(loop), worker(a), worker(b)};
            // Until the JIT has compiled the path, the interpreter may allocate where compiled code does
            // not; so measure rounds until one is warm. A path that allocated per frame never gets there.
            long least = Long.MAX_VALUE;
            for (int round = 0; round < ROUNDS && least > BUDGET_BYTES; round++) {
                long before = allocated(workers);
                exchange(loopPort, loopPort, toSelf, into, FRAMES);
                exchange(portA, portB, toB, into, FRAMES);
                least = Math.min(least, allocated(workers) - before);
            }
            assertTrue(least <= BUDGET_BYTES, "in the best of " + ROUNDS + " rounds the workers allocated " + least
                    + " bytes for " + (2 * FRAMES) + " frames");
        }
    }
}

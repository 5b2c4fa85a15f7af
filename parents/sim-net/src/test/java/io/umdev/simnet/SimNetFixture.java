package io.umdev.simnet;

import io.umdev.mdev.CreateRequest;
import io.umdev.mdev.MdevBus;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevInstance;
import io.umdev.simnet.l2.Ethernet;
import io.umdev.simnet.l2.Switches;
import io.umdev.virtio.driver.DriverOptions;
import io.umdev.virtio.driver.VirtioDriverException;
import io.umdev.virtio.driver.VirtioNetPort;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * A bus with the sim-net parent on it, instances made through the bus, and the in-process driver
 * opened on them; closes everything it made.
 */
final class SimNetFixture implements AutoCloseable {
    static final long PEER = 0x02_00_00_00_99_01L;
    static final int ETHERTYPE_TEST = 0x88b5; // IEEE local experimental
    static final long WAIT_SECONDS = 10;

    final Switches switches = new Switches();
    final SimNetParent parent = new SimNetParent(switches);
    final MdevBus bus = new MdevBus();
    private final Deque<VirtioNetPort> opened = new ArrayDeque<>();

    SimNetFixture() throws MdevException {
        bus.addParent(parent);
    }

    /** Creates an instance with attributes given as name, value, name, value... */
    MdevInstance create(String... attributes) throws MdevException {
        CreateRequest request = CreateRequest.of(SimNetParent.NAME, SimNetParent.TYPE);
        for (int i = 0; i < attributes.length; i += 2) {
            request = request.withAttribute(attributes[i], attributes[i + 1]);
        }
        return bus.create(request);
    }

    static SimNetDevice device(MdevInstance instance) {
        return instance.device().unwrap(SimNetDevice.class).orElseThrow();
    }

    static VirtioDevice virtio(MdevInstance instance) {
        return instance.device().unwrap(VirtioDevice.class).orElseThrow();
    }

    VirtioNetPort open(MdevInstance instance) throws VirtioDriverException {
        VirtioNetPort port = VirtioNetPort.open(virtio(instance),
                DriverOptions.defaults().withTimeout(Duration.ofSeconds(WAIT_SECONDS)));
        opened.push(port);
        return port;
    }

    VirtioNetPort open(MdevInstance instance, DriverOptions options) throws VirtioDriverException {
        VirtioNetPort port = VirtioNetPort.open(virtio(instance), options);
        opened.push(port);
        return port;
    }

    /** A frame with a recognisable payload: byte i of the payload is (seed + i). */
    static MemorySegment frame(long destination, long source, int length, int seed) {
        MemorySegment frame = MemorySegment.ofArray(new byte[length]);
        Ethernet.putAddress(frame, Ethernet.DESTINATION_OFFSET, destination);
        Ethernet.putAddress(frame, Ethernet.SOURCE_OFFSET, source);
        frame.set(ValueLayout.JAVA_BYTE, Ethernet.ETHERTYPE_OFFSET, (byte) (ETHERTYPE_TEST >>> 8));
        frame.set(ValueLayout.JAVA_BYTE, Ethernet.ETHERTYPE_OFFSET + 1, (byte) ETHERTYPE_TEST);
        for (int i = Ethernet.HEADER_LENGTH; i < length; i++) {
            frame.set(ValueLayout.JAVA_BYTE, i, (byte) (seed + i));
        }
        return frame;
    }

    /**
     * Waits for the next frame on {@code pair} and returns its length, or fails after the test
     * timeout (a generous bound, not a timing assertion).
     */
    static int receive(VirtioNetPort port, int pair, MemorySegment into) throws VirtioDriverException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (true) {
            int length = port.receive(pair, into);
            if (length >= 0) {
                return length;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no frame on pair " + pair + " within " + WAIT_SECONDS + " s");
            }
            port.awaitReceive(pair, 100, TimeUnit.MILLISECONDS);
        }
    }

    /**
     * Waits until the device has completed every frame sent on {@code pair} and takes the buffers back,
     * or fails after the test timeout. A device hands a transmitted frame on (to its peer, which may
     * already have received it) before it completes the transmit buffer, and counts the frame in
     * {@code tx<pair>.packets} only then: read that counter after this, not after the peer's receive.
     */
    static void awaitTransmitted(VirtioNetPort port, int pair) throws VirtioDriverException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        VirtioNetPort.Pair queues = port.pair(pair);
        while (true) {
            queues.reclaimTransmit();
            if (queues.transmitQueue().inFlightCount() == 0) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(queues.transmitQueue().inFlightCount() + " frames on pair " + pair
                        + " not completed within " + WAIT_SECONDS + " s");
            }
            port.awaitTransmit(pair, 100, TimeUnit.MILLISECONDS);
        }
    }

    /** Waits until {@code condition} holds, failing with {@code what} after the test timeout. */
    static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
    }

    static long stat(MdevInstance instance, String name) {
        Map<String, Long> stats = instance.device().statistics();
        Long value = stats.get(name);
        if (value == null) {
            throw new AssertionError("no statistic " + name + " in " + stats.keySet());
        }
        return value;
    }

    static long mac(VirtioNetPort port) {
        return port.mac().value();
    }

    @Override
    public void close() {
        while (!opened.isEmpty()) {
            opened.pop().close();
        }
        bus.close();
    }
}

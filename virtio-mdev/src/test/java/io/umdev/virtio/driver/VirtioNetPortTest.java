package io.umdev.virtio.driver;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.mdev.MacAddress;
import io.umdev.virtio.spec.NetSpec;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.vfiouser.dma.DmaTable;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The net driver against a loopback device on the software device core: real rings, memfd memory, a DMA table. */
class VirtioNetPortTest {
    private static final MacAddress MAC = MacAddress.parse("52:54:00:12:34:56");
    private static final int MTU = 1500;
    private static final int QUEUE_SIZE = 64;

    private final DmaTable dma = new DmaTable(16);
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        dma.close();
    }

    private LoopbackNetDevice device(int pairs) {
        LoopbackNetDevice d = new LoopbackNetDevice(dma, MAC, MTU, pairs, QUEUE_SIZE);
        toClose.add(d);
        return d;
    }

    private VirtioNetPort open(LoopbackNetDevice device, DriverSetup setup) throws VirtioDriverException {
        VirtioNetPort port = VirtioNetPort.open(device, setup.options(QUEUE_SIZE));
        toClose.add(port);
        return port;
    }

    private static MemorySegment frame(int length, int sequence) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (i * 31 + sequence);
        }
        MemorySegment f = MemorySegment.ofArray(bytes);
        f.set(JAVA_INT_UNALIGNED, 0, sequence);
        return f;
    }

    /** Waits for and takes the next frame on {@code pair}. */
    private static int receiveOne(VirtioNetPort port, int pair, MemorySegment dst) throws VirtioDriverException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            int n = port.receive(pair, dst);
            if (n >= 0) {
                return n;
            }
            assertTrue(System.nanoTime() < deadline, "no frame came back on pair " + pair);
            port.awaitReceive(pair, 1, TimeUnit.SECONDS);
        }
    }

    @Test
    void readsMacMtuLinkAndQueuePairsFromConfigSpace() throws Exception {
        LoopbackNetDevice device = device(4);
        VirtioNetPort port = open(device, DriverSetup.SPLIT_EVENTFD);
        assertEquals(MAC, port.mac());
        assertEquals(MTU, port.mtu());
        assertTrue(port.linkUp());
        assertEquals(4, port.maxQueuePairs());
        assertEquals(1, port.queuePairs());
        assertTrue(port.hasControlQueue());
        assertTrue(port.maxFrameSize() >= MTU + 14);
        device.setLink(false);
        assertFalse(port.linkUp(), "the link status is read afresh from config space");
    }

    @ParameterizedTest
    @EnumSource(DriverSetup.class)
    void aFrameSentComesBackWithoutItsHeader(DriverSetup setup) throws Exception {
        LoopbackNetDevice device = device(1);
        VirtioNetPort port = open(device, setup);
        MemorySegment sent = frame(MTU + 14, 7);
        assertTrue(port.send(0, sent));
        MemorySegment got = MemorySegment.ofArray(new byte[port.maxFrameSize()]);
        int length = receiveOne(port, 0, got);
        assertEquals(sent.byteSize(), length);
        assertArrayEquals(sent.toArray(JAVA_BYTE), got.asSlice(0, length).toArray(JAVA_BYTE));
        assertEquals(1, port.pair(0).rxFrames());
        assertEquals(1, port.pair(0).txFrames());
    }

    /** Thousands of frames through a 64-entry ring: the rings wrap many times and no frame is lost or reordered. */
    @ParameterizedTest
    @EnumSource(DriverSetup.class)
    void thousandsOfFramesLoopInOrderAcrossRingWraps(DriverSetup setup) throws Exception {
        LoopbackNetDevice device = device(1);
        VirtioNetPort port = open(device, setup);
        int frames = 10_000;
        MemorySegment got = MemorySegment.ofArray(new byte[port.maxFrameSize()]);
        int sent = 0;
        int received = 0;
        while (received < frames) {
            while (sent < frames && sent - received < QUEUE_SIZE / 2 && port.send(0, frame(60 + sent % 1400, sent))) {
                sent++;
            }
            int n = port.receive(0, got);
            if (n < 0) {
                if (!port.awaitReceive(0, 20, TimeUnit.SECONDS)) {
                    throw new AssertionError("frame " + received + " never came back; sent " + sent);
                }
                continue;
            }
            assertEquals(60 + received % 1400, n, "length of frame " + received);
            assertEquals(received, got.get(JAVA_INT_UNALIGNED, 0), "frames come back in order");
            received++;
        }
        assertEquals(frames, device.framesLooped.get());
        assertTrue(frames > 100 * QUEUE_SIZE);
    }

    @ParameterizedTest
    @EnumSource(value = DriverSetup.class, names = {"SPLIT_EVENTFD", "PACKED_EVENTFD", "PACKED_POLL_DIRECT"})
    void everyQueuePairCarriesItsOwnTrafficOnceEnabled(DriverSetup setup) throws Exception {
        int pairs = 4;
        LoopbackNetDevice device = device(pairs);
        VirtioNetPort port = open(device, setup);
        port.setQueuePairs(pairs);
        assertEquals(pairs, device.activePairs.get());
        assertEquals(pairs, port.queuePairs());
        int perPair = 2000;
        Throwable[] errors = new Throwable[pairs];
        CountDownLatch done = new CountDownLatch(pairs);
        for (int p = 0; p < pairs; p++) {
            int pair = p;
            Thread.ofPlatform().start(() -> {
                try {
                    MemorySegment got = MemorySegment.ofArray(new byte[port.maxFrameSize()]);
                    for (int i = 0; i < perPair; i++) {
                        MemorySegment f = frame(64, i);
                        f.set(JAVA_BYTE, 4, (byte) pair);
                        while (!port.send(pair, f)) {
                            port.awaitTransmit(pair, 1, TimeUnit.SECONDS);
                        }
                        int n = receiveOne(port, pair, got);
                        if (n != 64 || got.get(JAVA_INT_UNALIGNED, 0) != i || got.get(JAVA_BYTE, 4) != pair) {
                            throw new AssertionError("pair " + pair + " frame " + i + " came back wrong");
                        }
                    }
                } catch (Throwable e) {
                    errors[pair] = e;
                } finally {
                    done.countDown();
                }
            });
        }
        assertTrue(done.await(60, TimeUnit.SECONDS));
        for (Throwable e : errors) {
            if (e != null) {
                throw new AssertionError(e);
            }
        }
        for (int p = 0; p < pairs; p++) {
            assertEquals(perPair, port.pair(p).rxFrames(), "pair " + p);
        }
    }

    @Test
    void controlCommandsReachTheDevice() throws Exception {
        LoopbackNetDevice device = device(2);
        VirtioNetPort port = open(device, DriverSetup.PACKED_EVENTFD);
        port.setPromiscuous(true);
        assertEquals(1, device.promiscuous.get());
        port.setPromiscuous(false);
        assertEquals(0, device.promiscuous.get());
        port.setAllMulticast(true);
        assertEquals(1, device.allMulticast.get());
        MacAddress next = MacAddress.parse("02:00:00:00:00:2a");
        port.setMacAddress(next);
        assertEquals(next.value(), device.macSet.get());
        assertEquals(next, port.mac());
        port.setQueuePairs(2);
        assertEquals(2, device.activePairs.get());
    }

    @Test
    void aCommandTheDeviceRefusesRaisesEio() throws Exception {
        LoopbackNetDevice device = device(2);
        VirtioNetPort port = open(device, DriverSetup.SPLIT_EVENTFD);
        // VLAN filtering is not something the loopback knows: it answers ERR.
        VirtioDriverException e = assertThrows(VirtioDriverException.class,
                () -> port.command(NetSpec.CTRL_VLAN, NetSpec.CTRL_VLAN_ADD, MemorySegment.ofArray(new byte[2])));
        assertEquals(Errno.EIO, e.errno());
        // The control queue still works.
        port.setPromiscuous(true);
        assertEquals(1, device.promiscuous.get());
    }

    @Test
    void withoutAControlQueueThePortRunsOnOnePairAndRefusesCommands() throws Exception {
        LoopbackNetDevice device = new LoopbackNetDevice(dma, MAC, MTU, 4, QUEUE_SIZE,
                VirtioFeature.bit(NetSpec.F_CTRL_VQ));
        toClose.add(device);
        VirtioNetPort port = open(device, DriverSetup.PACKED_EVENTFD);
        assertFalse(port.hasControlQueue());
        assertEquals(1, port.maxQueuePairs(), "MQ needs the control queue: it is not negotiated");
        assertFalse(port.driver().hasFeature(NetSpec.F_MQ));
        VirtioDriverException e = assertThrows(VirtioDriverException.class, () -> port.setPromiscuous(true));
        assertEquals(Errno.EOPNOTSUPP, e.errno());
        assertTrue(port.send(0, frame(60, 1)));
        assertEquals(60, receiveOne(port, 0, MemorySegment.ofArray(new byte[port.maxFrameSize()])));
    }

    @Test
    void eventfdInterruptsWakeAWaitingReceiver() throws Exception {
        LoopbackNetDevice device = device(1);
        VirtioNetPort port = open(device, DriverSetup.SPLIT_EVENTFD);
        MemorySegment got = MemorySegment.ofArray(new byte[port.maxFrameSize()]);
        for (int i = 0; i < 50; i++) {
            assertTrue(port.send(0, frame(100, i)));
            assertEquals(100, receiveOne(port, 0, got));
        }
        assertTrue(port.pair(0).receiveQueue().wakeups() > 0, "at least one wait ended by the eventfd");
    }
}

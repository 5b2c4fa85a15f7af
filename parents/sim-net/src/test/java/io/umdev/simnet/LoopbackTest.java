package io.umdev.simnet;

import static io.umdev.simnet.SimNetFixture.PEER;
import static io.umdev.simnet.SimNetFixture.frame;
import static io.umdev.simnet.SimNetFixture.mac;
import static io.umdev.simnet.SimNetFixture.receive;
import static io.umdev.simnet.SimNetFixture.stat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.mdev.MdevInstance;
import io.umdev.simnet.l2.Ethernet;
import io.umdev.virtio.driver.DriverOptions;
import io.umdev.virtio.driver.RingLayout;
import io.umdev.virtio.driver.VirtioNetPort;
import io.umdev.virtio.spec.NetSpec;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

class LoopbackTest {
    private SimNetFixture fixture;
    private MdevInstance instance;
    private final MemorySegment received = MemorySegment.ofArray(new byte[2048]);

    @BeforeEach
    void create() throws Exception {
        fixture = new SimNetFixture();
        instance = fixture.create(SimNetSettings.MODE, "loopback");
    }

    @AfterEach
    void close() throws Exception {
        fixture.close();
    }

    private static int[] sizes() {
        int max = Ethernet.maxFrameLength(SimNetSettings.DEFAULT_MTU);
        return new int[] {Ethernet.HEADER_LENGTH, 60, 64, 65, 127, 128, 256, 511, 512, 1000, 1023, 1024, 1499, 1514,
                max - 1, max};
    }

    @ParameterizedTest
    @EnumSource(value = RingLayout.class, names = {"SPLIT", "PACKED"})
    void echoesFramesOfEverySizeOneByOneAndInBurstsWithCounters(RingLayout layout) throws Exception {
        VirtioNetPort port = fixture.open(instance, DriverOptions.defaults().withRingLayout(layout)
                .withTimeout(Duration.ofSeconds(SimNetFixture.WAIT_SECONDS)));
        long own = mac(port);
        int frames = 0;
        long bytes = 0;
        for (int round = 0; round < 20; round++) {
            for (int size : sizes()) {
                MemorySegment sent = frame(own, PEER, size, round * 31 + size);
                assertTrue(port.send(0, sent));
                int length = receive(port, 0, received);
                assertEquals(size, length);
                assertEquals(-1, sent.mismatch(received.asSlice(0, length)), "frame of " + size + " bytes differs");
                frames++;
                bytes += size;
            }
        }
        int burst = 64;
        for (int i = 0; i < burst; i++) {
            assertTrue(port.send(0, frame(own, PEER, 64 + i, i)));
        }
        for (int i = 0; i < burst; i++) {
            int length = receive(port, 0, received);
            assertEquals(64 + i, length, "burst frame " + i + " out of order or resized");
            assertEquals(-1, frame(own, PEER, 64 + i, i).mismatch(received.asSlice(0, length)));
            frames++;
            bytes += length;
        }
        long headers = (long) frames * NetSpec.HDR_SIZE;
        assertEquals(frames, stat(instance, "rx0.packets"));
        assertEquals(bytes + headers, stat(instance, "rx0.bytes"));
        assertEquals(frames, stat(instance, "tx0.packets"));
        assertEquals(bytes + headers, stat(instance, "tx0.bytes"));
        assertEquals(0, stat(instance, "tx0.drops") + stat(instance, "tx0.errors") + stat(instance, "rx0.drops"));
        assertEquals(frames, stat(instance, "port.delivered"));
        assertEquals(frames, port.pair(0).rxFrames());
    }

    @Test
    void framesForAnotherAddressAreFilteredAndBroadcastComesBack() throws Exception {
        VirtioNetPort port = fixture.open(instance);
        long own = mac(port);
        assertTrue(port.send(0, frame(PEER, own, 100, 1)));
        assertTrue(port.send(0, frame(Ethernet.BROADCAST, own, 101, 2)));
        assertEquals(101, receive(port, 0, received), "the filtered frame must not come back");
        assertEquals(1, stat(instance, "port.filtered"));
        assertEquals(2, stat(instance, "tx0.packets"));
        assertEquals(1, stat(instance, "rx0.packets"));
    }

    @Test
    void framesAboveTheMtuAreDroppedAndCounted() throws Exception {
        VirtioNetPort port = fixture.open(instance);
        long own = mac(port);
        int oversize = Ethernet.maxFrameLength(SimNetSettings.DEFAULT_MTU) + 1;
        assertTrue(oversize <= port.maxFrameSize(), "the driver's buffers must carry the oversize frame");
        assertTrue(port.send(0, frame(own, PEER, oversize, 3)));
        assertTrue(port.send(0, frame(own, PEER, 200, 4)));
        assertEquals(200, receive(port, 0, received), "the oversize frame must not come back");
        assertEquals(1, stat(instance, "tx0.drops"));
        assertEquals(1, stat(instance, "rx0.packets"));
    }

    @Test
    void aRuntIsCountedAsAnError() throws Exception {
        VirtioNetPort port = fixture.open(instance);
        assertTrue(port.send(0, MemorySegment.ofArray(new byte[Ethernet.HEADER_LENGTH - 1])));
        assertTrue(port.send(0, frame(mac(port), PEER, 70, 5)));
        assertEquals(70, receive(port, 0, received));
        assertEquals(1, stat(instance, "tx0.errors"));
    }

    @Test
    void aLargerMtuCarriesJumboFrames() throws Exception {
        MdevInstance jumbo = fixture.create(SimNetSettings.MODE, "loopback", SimNetSettings.MTU, "9000");
        VirtioNetPort port = fixture.open(jumbo);
        assertEquals(9000, port.mtu());
        MemorySegment big = MemorySegment.ofArray(new byte[Ethernet.maxFrameLength(9000)]);
        MemorySegment sent = frame(mac(port), PEER, 9014, 6);
        assertTrue(port.send(0, sent));
        assertEquals(9014, receive(port, 0, big));
        assertEquals(-1, sent.mismatch(big.asSlice(0, 9014)));
    }
}

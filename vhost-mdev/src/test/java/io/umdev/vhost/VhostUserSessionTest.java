package io.umdev.vhost;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.vhost.protocol.Payloads;
import io.umdev.vhost.protocol.ProtocolFeature;
import io.umdev.vhost.protocol.Request;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.VirtioFeature;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backend over a real Unix socket with a hand-written front-end: negotiation, the memory table, rings
 * started, stopped and restarted, the state machine, reconnect, and every message's validation.
 */
class VhostUserSessionTest {
    private static final int QUEUE_SIZE = 64;
    private static final long RAM = 1 << 20;
    private static final long RING_OFFSET = 0x10000;
    private static final long OUT_OFFSET = 0x40000;
    private static final long IN_OFFSET = 0x60000;
    private static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(10);

    @TempDir
    Path dir;
    private DmaTable table;
    private EchoDevice device;
    private VhostUserServer server;
    private GuestRam ram;

    @BeforeEach
    void setUp() throws Exception {
        table = new DmaTable(16);
        device = new EchoDevice(table, QUEUE_SIZE);
        server = VhostUserServer.start(device, dir.resolve("echo.vhost.sock"), "echo");
        ram = new GuestRam(RAM);
    }

    @AfterEach
    void tearDown() {
        server.close();
        device.close();
        ram.close();
        table.close();
    }

    private TestFrontend connect() throws IOException {
        return new TestFrontend(server.path());
    }

    private long setMemory(TestFrontend f) throws Exception {
        return f.ack(Request.SET_MEM_TABLE, TestFrontend.memory(new long[] {GuestRam.GUEST_BASE, RAM, GuestRam.USER_BASE, 0}),
                ram.fd.duplicate());
    }

    /** Programs vring q at RING_OFFSET and starts it with {@code kick} and {@code call}; returns the kick's ack. */
    private long startRing(TestFrontend f, GuestRam.SplitQueue vq, int q, int base, EventFd kick, EventFd call)
            throws Exception {
        assertEquals(0, f.ack(Request.SET_VRING_NUM, TestFrontend.state(q, vq.num)));
        assertEquals(0, f.ack(Request.SET_VRING_BASE, TestFrontend.state(q, base)));
        assertEquals(0, f.ack(Request.SET_VRING_ADDR, TestFrontend.addr(q, 0, ram.uva(vq.desc), ram.uva(vq.used),
                ram.uva(vq.avail), ram.gpa(vq.used))));
        assertEquals(0, f.ack(Request.SET_VRING_CALL, TestFrontend.u64(q), call.fd().duplicate()));
        long kicked = f.ack(Request.SET_VRING_KICK, TestFrontend.u64(q), kick.fd().duplicate());
        assertEquals(0, f.ack(Request.SET_VRING_ENABLE, TestFrontend.state(q, 1)));
        return kicked;
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT_NANOS;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(1);
        }
    }

    /** Posts one echo request (payload {@code len} bytes of {@code fill}), kicks and waits for its completion. */
    private void echoOnce(GuestRam.SplitQueue vq, EventFd kick, EventFd call, int len, byte fill) throws Exception {
        ram.mem.asSlice(OUT_OFFSET, len).fill(fill);
        ram.mem.asSlice(IN_OFFSET, len).fill((byte) 0);
        int expected = (vq.usedIdx() + 1) & 0xFFFF;
        vq.post((vq.nextAvail * 2) % vq.num, OUT_OFFSET, len, IN_OFFSET, len);
        kick.signal();
        await(() -> vq.usedIdx() == expected, "the used entry");
        assertEquals(len, vq.usedLen(expected - 1));
        assertArrayEquals(ram.mem.asSlice(OUT_OFFSET, len).toArray(ValueLayout.JAVA_BYTE),
                ram.mem.asSlice(IN_OFFSET, len).toArray(ValueLayout.JAVA_BYTE));
        await(() -> {
            try {
                return call.read() > 0;
            } catch (Exception e) {
                return false;
            }
        }, "the call eventfd");
    }

    @Test
    void featuresOfferTheDevicesBitsWithoutAccessPlatformPlusTheVhostBits() throws Exception {
        try (TestFrontend f = connect()) {
            long offered = f.getU64(Request.GET_FEATURES);
            assertTrue(ProtocolFeature.has(offered, ProtocolFeature.F_PROTOCOL_FEATURES));
            assertTrue(ProtocolFeature.has(offered, ProtocolFeature.F_LOG_ALL));
            assertTrue(VirtioFeature.has(offered, VirtioFeature.VERSION_1));
            assertTrue(VirtioFeature.has(offered, EchoDevice.FEATURE_FANCY));
            assertFalse(VirtioFeature.has(offered, VirtioFeature.ACCESS_PLATFORM));
            assertEquals(VhostUserSession.PROTOCOL_FEATURES, f.getU64(Request.GET_PROTOCOL_FEATURES));
            f.send(Request.SET_PROTOCOL_FEATURES, TestFrontend.u64(VhostUserSession.PROTOCOL_FEATURES));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_FEATURES, TestFrontend.u64(VirtioFeature.bit(VirtioFeature.ACCESS_PLATFORM))));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_PROTOCOL_FEATURES, TestFrontend.u64(1L << 40)));
            assertEquals(0, f.ack(Request.SET_FEATURES, TestFrontend.u64(VirtioFeature.bit(VirtioFeature.VERSION_1))));
        }
    }

    @Test
    void aRingStartedOverTheSocketEchoesBuffersAndSignalsTheCallEventfd() throws Exception {
        try (TestFrontend f = connect(); EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking()) {
            f.negotiate(0, 0);
            assertEquals(0, setMemory(f));
            GuestRam.SplitQueue vq = ram.new SplitQueue(RING_OFFSET, QUEUE_SIZE);
            assertEquals(0, startRing(f, vq, 0, 0, kick, call));
            assertTrue(DeviceStatus.has(device.status(), DeviceStatus.DRIVER_OK));
            assertEquals(ram.gpa(vq.desc), ram.gpa(RING_OFFSET), "ring addresses were translated to guest-physical");
            for (int i = 0; i < 200; i++) {
                echoOnce(vq, kick, call, 64 + i, (byte) i);
            }
            assertEquals(200, device.queueStatistics(0).requests());
        }
    }

    @Test
    void getVringBaseStopsTheRingAndAnswersItsPositionWhichARestartContinuesFrom() throws Exception {
        try (TestFrontend f = connect(); EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking()) {
            f.negotiate(0, 0);
            assertEquals(0, setMemory(f));
            GuestRam.SplitQueue vq = ram.new SplitQueue(RING_OFFSET, QUEUE_SIZE);
            startRing(f, vq, 0, 0, kick, call);
            for (int i = 0; i < 5; i++) {
                echoOnce(vq, kick, call, 32, (byte) 7);
            }
            byte[] base = f.get(Request.GET_VRING_BASE, TestFrontend.state(0, 0));
            assertEquals(0, TestFrontend.intAt(base, Payloads.VRING_STATE_INDEX));
            assertEquals(5, TestFrontend.intAt(base, Payloads.VRING_STATE_NUM));
            assertFalse(device.queueReady(0), "GET_VRING_BASE stopped the ring");

            // A buffer posted while stopped is not consumed until the ring restarts from base 5.
            ram.mem.asSlice(OUT_OFFSET, 16).fill((byte) 3);
            vq.post(20, OUT_OFFSET, 16, IN_OFFSET, 16);
            kick.signal();
            Thread.sleep(50);
            assertEquals(5, vq.usedIdx());
            assertEquals(0, f.ack(Request.SET_VRING_BASE, TestFrontend.state(0, 5)));
            assertEquals(0, f.ack(Request.SET_VRING_KICK, TestFrontend.u64(0), kick.fd().duplicate()));
            await(() -> vq.usedIdx() == 6, "the buffer posted while stopped");
        }
    }

    @Test
    void withoutProtocolFeaturesAKickAloneStartsTheRing() throws Exception {
        try (TestFrontend f = connect(); EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking()) {
            long offered = f.getU64(Request.GET_FEATURES);
            f.send(Request.SET_FEATURES, TestFrontend.u64(offered & ~VhostUserSession.VHOST_BITS & ~VirtioFeature.bits(
                    VirtioFeature.RING_PACKED, VirtioFeature.RING_EVENT_IDX, VirtioFeature.IN_ORDER)));
            f.send(Request.SET_OWNER, new byte[0]);
            f.send(Request.SET_MEM_TABLE, TestFrontend.memory(new long[] {GuestRam.GUEST_BASE, RAM, GuestRam.USER_BASE, 0}),
                    ram.fd.duplicate());
            GuestRam.SplitQueue vq = ram.new SplitQueue(RING_OFFSET, QUEUE_SIZE);
            f.send(Request.SET_VRING_NUM, TestFrontend.state(0, QUEUE_SIZE));
            f.send(Request.SET_VRING_ADDR, TestFrontend.addr(0, 0, ram.uva(vq.desc), ram.uva(vq.used), ram.uva(vq.avail), 0));
            f.send(Request.SET_VRING_CALL, TestFrontend.u64(0), call.fd().duplicate());
            f.send(Request.SET_VRING_KICK, TestFrontend.u64(0), kick.fd().duplicate());
            echoOnce(vq, kick, call, 100, (byte) 9);
            // SET_VRING_ENABLE needs F_PROTOCOL_FEATURES: refused here (no ack either, REPLY_ACK is off).
            assertEquals(1, TestFrontend.intAt(f.get(Request.GET_VRING_BASE, TestFrontend.state(0, 0)),
                    Payloads.VRING_STATE_NUM));
        }
    }

    @Test
    void vringBasesUseVhostsEncodingForSplitAndPackedRings() {
        assertEquals(new io.umdev.virtio.transport.SplitQueueState(0x1234), VhostUserSession.baseState(0x1234, false));
        var packed = new io.umdev.virtio.transport.PackedQueueState(5, true, 3, false);
        int wrap = 1 << io.umdev.virtio.spec.PackedRing.EVENT_WRAP_BIT;
        assertEquals(5 | wrap | (3 << 16), VhostUserSession.encodeBase(packed));
        assertEquals(packed, VhostUserSession.baseState(VhostUserSession.encodeBase(packed), true));
        // DPDK sends only the avail half: every buffer before it counts as used.
        assertEquals(new io.umdev.virtio.transport.PackedQueueState(7, true, 7, true),
                VhostUserSession.baseState(7 | wrap, true));
    }

    @Test
    void ringsCanBeDisabledBeforeTheFirstSetFeaturesOnceProtocolFeaturesAreSet() throws Exception {
        try (TestFrontend f = connect()) {
            // QEMU's order for net: protocol features, then SET_VRING_ENABLE 0 on every ring, SET_FEATURES later.
            f.send(Request.SET_PROTOCOL_FEATURES, TestFrontend.u64(VhostUserSession.PROTOCOL_FEATURES));
            assertEquals(0, f.ack(Request.SET_VRING_ENABLE, TestFrontend.state(0, 0)));
            assertEquals(0, f.ack(Request.SET_VRING_ENABLE, TestFrontend.state(1, 0)));
        }
    }

    @Test
    void statusIsRecordedAndFeaturesOkIsCheckedAgainstTheDevice() throws Exception {
        try (TestFrontend f = connect()) {
            f.negotiate(0, 0);
            int s = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER;
            assertEquals(0, f.ack(Request.SET_STATUS, TestFrontend.u64(s)));
            assertEquals(s, f.getU64(Request.GET_STATUS));
            assertEquals(0, f.ack(Request.SET_STATUS, TestFrontend.u64(s | DeviceStatus.FEATURES_OK)));
            assertEquals(s | DeviceStatus.FEATURES_OK, f.getU64(Request.GET_STATUS));
            assertTrue(DeviceStatus.has(device.status(), DeviceStatus.FEATURES_OK));
            // Status 0 is recorded, never a reset of the device (QEMU clears it before collecting ring bases).
            assertEquals(0, f.ack(Request.SET_STATUS, TestFrontend.u64(0)));
            assertEquals(0, f.getU64(Request.GET_STATUS));
            assertTrue(DeviceStatus.has(device.status(), DeviceStatus.FEATURES_OK));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_STATUS, TestFrontend.u64(0x100)));
        }
    }

    @Test
    void configIsReadAndWrittenWithinTheDevicesSpace() throws Exception {
        try (TestFrontend f = connect()) {
            f.negotiate(0, 0);
            byte[] r = f.get(Request.GET_CONFIG, TestFrontend.config(2, 4, new byte[4]));
            assertEquals(Payloads.CONFIG_HEADER_SIZE + 4, r.length);
            assertArrayEquals(new byte[] {3, 4, 5, 6}, java.util.Arrays.copyOfRange(r, Payloads.CONFIG_HEADER_SIZE, r.length));
            // A front-end asking for more than the device has reads zeros past its end.
            r = f.get(Request.GET_CONFIG, TestFrontend.config(0, 32, new byte[32]));
            assertEquals(Payloads.CONFIG_HEADER_SIZE + 32, r.length);
            assertEquals(16, r[Payloads.CONFIG_HEADER_SIZE + 15]);
            assertEquals(0, r[Payloads.CONFIG_HEADER_SIZE + 16]);
            assertEquals(0, f.get(Request.GET_CONFIG, TestFrontend.config(0, 300, new byte[300])).length);
            assertEquals(0, f.get(Request.GET_CONFIG, TestFrontend.config(250, 10, new byte[10])).length);
            assertEquals(0, f.get(Request.GET_CONFIG, TestFrontend.config(0, 8, new byte[4])).length);
            assertEquals(0, f.ack(Request.SET_CONFIG, TestFrontend.config(0, 2, new byte[] {1, 2})));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_CONFIG, TestFrontend.config(15, 2, new byte[] {1, 2})));
        }
    }

    @Test
    void queueNumAnswersTheDevicesQueues() throws Exception {
        try (TestFrontend f = connect()) {
            f.negotiate(0, 0);
            assertEquals(EchoDevice.QUEUES, f.getU64(Request.GET_QUEUE_NUM));
        }
    }

    @Test
    void everyMalformedMessageIsRefusedAndTheSessionCarriesOn() throws Exception {
        try (TestFrontend f = connect(); EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking();
                OwnedFd notAnEventfd = Memfd.create("not-an-eventfd", 4096)) {
            f.negotiate(0, 0);
            long[] region = {GuestRam.GUEST_BASE, RAM, GuestRam.USER_BASE, 0};
            // Memory table: no region, too many, a size that disagrees with the count, fds missing or extra,
            // an empty or wrapping region, overlapping front-end addresses, a file too small, not a file.
            assertEquals(Errno.EINVAL, f.ack(Request.SET_MEM_TABLE, TestFrontend.memory()));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_MEM_TABLE, TestFrontend.memory(new long[9][4])));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_MEM_TABLE, TestFrontend.memory(region)));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_MEM_TABLE, TestFrontend.memory(region), ram.fd.duplicate(),
                    ram.fd.duplicate()));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_MEM_TABLE,
                    TestFrontend.memory(new long[] {GuestRam.GUEST_BASE, 0, GuestRam.USER_BASE, 0}), ram.fd.duplicate()));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_MEM_TABLE,
                    TestFrontend.memory(new long[] {-4096, 8192, GuestRam.USER_BASE, 0}), ram.fd.duplicate()));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_MEM_TABLE, TestFrontend.memory(region,
                    new long[] {GuestRam.GUEST_BASE + RAM, RAM, GuestRam.USER_BASE + 4096, 0}), ram.fd.duplicate(), ram.fd.duplicate()));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_MEM_TABLE,
                    TestFrontend.memory(new long[] {GuestRam.GUEST_BASE, RAM * 2, GuestRam.USER_BASE, 0}), ram.fd.duplicate()));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_MEM_TABLE, TestFrontend.memory(region), kick.fd().duplicate()));
            assertEquals(0, table.size(), "nothing was mapped by a refused table");
            assertEquals(0, setMemory(f));
            assertEquals(1, table.size());

            // Vring messages: index out of range, size not a power of two or too large, wrong payload sizes,
            // unknown flags, descriptors that are not eventfds, a kick without a descriptor, bits above the index.
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_NUM, TestFrontend.state(EchoDevice.QUEUES, 64)));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_NUM, TestFrontend.state(0, 63)));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_NUM, TestFrontend.state(0, QUEUE_SIZE * 2)));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_NUM, TestFrontend.state(0, 0)));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_NUM, new byte[4]));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_ADDR, new byte[Payloads.VRING_ADDR_SIZE - 8]));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_ADDR, TestFrontend.addr(0, 2, 0, 0, 0, 0)));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_ADDR, TestFrontend.addr(-1, 0, 0, 0, 0, 0)));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_BASE, TestFrontend.state(0, 0x10000)));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_CALL, TestFrontend.u64(0), notAnEventfd.duplicate()));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_CALL, TestFrontend.u64(0)));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_CALL, TestFrontend.u64(0x200), call.fd().duplicate()));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_CALL, TestFrontend.u64(Payloads.VRING_FILE_NOFD),
                    call.fd().duplicate()));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_KICK, TestFrontend.u64(5), kick.fd().duplicate()));
            assertEquals(Errno.EOPNOTSUPP, f.ack(Request.SET_VRING_KICK, TestFrontend.u64(Payloads.VRING_FILE_NOFD)));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_ENABLE, TestFrontend.state(0, 2)));
            assertEquals(0, f.get(Request.GET_VRING_BASE, TestFrontend.state(9, 0)).length);

            // A ring whose addresses lie outside the memory table does not start.
            GuestRam.SplitQueue vq = ram.new SplitQueue(RING_OFFSET, QUEUE_SIZE);
            assertEquals(0, f.ack(Request.SET_VRING_NUM, TestFrontend.state(0, QUEUE_SIZE)));
            assertEquals(0, f.ack(Request.SET_VRING_ADDR, TestFrontend.addr(0, 0, ram.uva(RAM - 16), ram.uva(vq.used),
                    ram.uva(vq.avail), 0)));
            assertEquals(0, f.ack(Request.SET_VRING_ENABLE, TestFrontend.state(0, 1)));
            assertEquals(Errno.EFAULT, f.ack(Request.SET_VRING_KICK, TestFrontend.u64(0), kick.fd().duplicate()));
            assertFalse(device.queueReady(0));
            // A misaligned used ring is refused too, and the device is not left needing a reset.
            assertEquals(0, f.ack(Request.SET_VRING_ADDR, TestFrontend.addr(0, 0, ram.uva(vq.desc), ram.uva(vq.used + 2),
                    ram.uva(vq.avail), 0)));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_KICK, TestFrontend.u64(0), kick.fd().duplicate()));
            assertFalse(device.queueReady(0));
            assertEquals(0, device.status() & DeviceStatus.NEEDS_RESET);

            // Log, config, unknown requests, payloads on a message that has none.
            assertEquals(0, f.get(Request.SET_LOG_BASE, TestFrontend.log(4096, 0)).length);
            assertEquals(Errno.EINVAL, f.ack(Request.SET_OWNER, new byte[8]));
            assertEquals(Errno.EOPNOTSUPP, f.ack(99, new byte[0]));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_FEATURES, new byte[4]));

            // After all that, the session still runs rings.
            assertEquals(0, startRing(f, vq, 0, 0, kick, call));
            echoOnce(vq, kick, call, 48, (byte) 1);
            assertEquals(0, device.queueStatistics(0).errors());
        }
    }

    @Test
    void aBrokenHeaderClosesTheConnectionAndANewFrontendIsServed() throws Exception {
        try (TestFrontend bad = connect()) {
            java.nio.ByteBuffer header = TestFrontend.bytes(12).putInt(Request.GET_FEATURES).putInt(0x2).putInt(0).flip();
            bad.socket.write(header);
            java.nio.ByteBuffer sink = java.nio.ByteBuffer.allocate(16);
            await(() -> {
                try {
                    return bad.socket.read(sink.clear()) < 0;
                } catch (IOException e) {
                    return true;
                }
            }, "the backend to close the connection");
        }
        // One front-end at a time: the next is served once the broken one's session has ended.
        await(() -> !server.connected(), "the session to end");
        try (TestFrontend oversized = connect()) {
            oversized.socket.write(TestFrontend.bytes(12).putInt(Request.SET_MEM_TABLE).putInt(1).putInt(1 << 20).flip());
            java.nio.ByteBuffer sink = java.nio.ByteBuffer.allocate(16);
            await(() -> {
                try {
                    return oversized.socket.read(sink.clear()) < 0;
                } catch (IOException e) {
                    return true;
                }
            }, "the backend to close an oversized message's connection");
        }
        await(() -> !server.connected(), "the session to end");
        try (TestFrontend f = connect()) {
            assertNotEquals(0, f.getU64(Request.GET_FEATURES));
        }
    }

    @Test
    void aSecondFrontendIsTurnedAwayWhileOneIsServed() throws Exception {
        try (TestFrontend first = connect(); TestFrontend second = connect()) {
            assertNotEquals(0, first.getU64(Request.GET_FEATURES));
            try {
                second.send(Request.GET_FEATURES, new byte[0]);
            } catch (IOException alreadyClosed) {
                // The backend may have closed it first.
            }
            java.nio.ByteBuffer sink = java.nio.ByteBuffer.allocate(16);
            await(() -> {
                try {
                    return second.socket.read(sink.clear()) < 0;
                } catch (IOException e) {
                    return true;
                }
            }, "the second connection to be closed");
            assertNotEquals(0, first.getU64(Request.GET_FEATURES));
        }
    }

    @Test
    void afterADisconnectTheDeviceIsResetAndANewFrontendSetsItUpAgain() throws Exception {
        GuestRam.SplitQueue vq = ram.new SplitQueue(RING_OFFSET, QUEUE_SIZE);
        try (TestFrontend f = connect(); EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking()) {
            f.negotiate(0, 0);
            setMemory(f);
            startRing(f, vq, 0, 0, kick, call);
            echoOnce(vq, kick, call, 64, (byte) 5);
        }
        await(() -> !server.connected() && device.status() == DeviceStatus.RESET && table.size() == 0,
                "the session's cleanup");
        assertEquals(1, server.sessions());
        // QEMU's reconnect: the new front-end continues the same guest ring from the used index it saw.
        try (TestFrontend f = connect(); EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking()) {
            f.negotiate(0, 0);
            assertEquals(0, setMemory(f));
            assertEquals(0, startRing(f, vq, 0, vq.usedIdx(), kick, call));
            echoOnce(vq, kick, call, 80, (byte) 6);
        }
        assertEquals(2, server.sessions());
    }

    @Test
    void resetDeviceStopsRingsAndForgetsFeatures() throws Exception {
        try (TestFrontend f = connect(); EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking()) {
            f.negotiate(0, 0);
            setMemory(f);
            GuestRam.SplitQueue vq = ram.new SplitQueue(RING_OFFSET, QUEUE_SIZE);
            startRing(f, vq, 0, 0, kick, call);
            echoOnce(vq, kick, call, 64, (byte) 5);
            assertEquals(0, f.ack(Request.RESET_DEVICE, new byte[0]));
            assertFalse(device.queueReady(0));
            assertEquals(DeviceStatus.RESET, device.status());
            // Features are forgotten (protocol features stay: they belong to the connection): the ring can be
            // enabled, but a kick cannot start it without SET_FEATURES.
            assertEquals(0, f.ack(Request.SET_VRING_ENABLE, TestFrontend.state(0, 1)));
            assertEquals(0, f.ack(Request.SET_VRING_ADDR, TestFrontend.addr(0, 0, ram.uva(vq.desc), ram.uva(vq.used),
                    ram.uva(vq.avail), 0)));
            assertEquals(Errno.EINVAL, f.ack(Request.SET_VRING_KICK, TestFrontend.u64(0), kick.fd().duplicate()));
            assertFalse(device.queueReady(0));
            // Set up again, it runs.
            f.negotiate(0, 0);
            assertEquals(0, startRing(f, vq, 0, vq.usedIdx(), kick, call));
            echoOnce(vq, kick, call, 64, (byte) 8);
        }
    }
}

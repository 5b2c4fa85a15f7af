package io.umdev.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.EventFd;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.dma.DmaTable;
import io.umdev.vhost.protocol.ProtocolFeature;
import io.umdev.vhost.protocol.Request;
import io.umdev.virtio.spec.SplitRing;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dirty log, checked from the front-end's side: with SET_LOG_BASE and LOG_ALL, exactly the pages the
 * data path wrote (buffers and the used ring) are marked in the shared bitmap, by guest-physical page.
 */
class DirtyLogTest {
    private static final int QUEUE_SIZE = 64;
    private static final long RAM = 1 << 20;
    private static final long RING = 0x10000;
    private static final long OUT = 0x40000;
    private static final long PAGE = DmaTable.PAGE_SIZE;
    /** Enough bitmap for every page up to the end of guest RAM, rounded up to whole words. */
    private static final long LOG_BYTES = ((GuestRam.GUEST_BASE + RAM) / PAGE / Byte.SIZE + Long.BYTES) & ~(Long.BYTES - 1L);

    @TempDir
    Path dir;

    @Test
    void pagesTheDataPathWritesAreMarkedAndNoOthers() throws Exception {
        try (DmaTable table = new DmaTable(16); GuestRam ram = new GuestRam(RAM);
                OwnedFd logFd = Memfd.create("dirty-log", LOG_BYTES);
                MappedMemory logMap = MappedMemory.map(logFd, 0, LOG_BYTES, true);
                EventFd kick = EventFd.createNonBlocking(); EventFd call = EventFd.createNonBlocking()) {
            EchoDevice device = new EchoDevice(table, QUEUE_SIZE);
            try (VhostUserServer server = VhostUserServer.start(device, dir.resolve("log.sock"), "log");
                    TestFrontend f = new TestFrontend(server.path())) {
                long features = f.negotiate(0, 0);
                assertEquals(0, f.ack(Request.SET_MEM_TABLE,
                        TestFrontend.memory(new long[] {GuestRam.GUEST_BASE, RAM, GuestRam.USER_BASE, 0}), ram.fd.duplicate()));
                assertEquals(0, f.get(Request.SET_LOG_BASE, TestFrontend.log(LOG_BYTES, 0), logFd.duplicate()).length);
                GuestRam.SplitQueue vq = ram.new SplitQueue(RING, QUEUE_SIZE);
                assertEquals(0, f.ack(Request.SET_VRING_NUM, TestFrontend.state(0, QUEUE_SIZE)));
                assertEquals(0, f.ack(Request.SET_VRING_ADDR, TestFrontend.addr(0, 1, ram.uva(vq.desc), ram.uva(vq.used),
                        ram.uva(vq.avail), ram.gpa(vq.used))));
                assertEquals(0, f.ack(Request.SET_VRING_CALL, TestFrontend.u64(0), call.fd().duplicate()));
                assertEquals(0, f.ack(Request.SET_VRING_KICK, TestFrontend.u64(0), kick.fd().duplicate()));
                assertEquals(0, f.ack(Request.SET_VRING_ENABLE, TestFrontend.state(0, 1)));

                // Without LOG_ALL nothing is logged, even with a log mapped.
                echo(ram, vq, kick, 0, 0x50000, 100);
                assertEquals(new BitSet(), marked(logMap.segment()));

                // LOG_ALL on a running ring (what QEMU does when migration starts): writes are logged from now on.
                assertEquals(0, f.ack(Request.SET_FEATURES,
                        TestFrontend.u64(features | ProtocolFeature.bit(ProtocolFeature.F_LOG_ALL))));
                long in = 0x60000 + 100;
                int len = 3 * (int) PAGE;
                echo(ram, vq, kick, 2, in, len);
                BitSet expected = new BitSet();
                for (long a = ram.gpa(in); a < ram.gpa(in) + len; a += PAGE) {
                    expected.set((int) (a / PAGE));
                }
                expected.set((int) (ram.gpa(in + len - 1) / PAGE));
                // The used ring: the used element and index, and the no-notify flag, all in its page.
                expected.set((int) (ram.gpa(vq.used) / PAGE));
                assertEquals(expected, marked(logMap.segment()), "dirty pages");
                assertTrue(expected.cardinality() == 5, expected::toString);

                // The front-end clears the log (a migration round) and the next write marks again.
                logMap.segment().fill((byte) 0);
                echo(ram, vq, kick, 4, 0x80000, 10);
                BitSet again = new BitSet();
                again.set((int) (ram.gpa(0x80000) / PAGE));
                again.set((int) (ram.gpa(vq.used) / PAGE));
                assertEquals(again, marked(logMap.segment()));
            } finally {
                device.close();
            }
        }
    }

    /** Echoes {@code len} bytes from OUT into {@code in} through descriptors {@code head}, head+1. */
    private static void echo(GuestRam ram, GuestRam.SplitQueue vq, EventFd kick, int head, long in, int len)
            throws InterruptedException {
        ram.mem.asSlice(OUT, len).fill((byte) 0x33);
        int expected = (vq.usedIdx() + 1) & 0xFFFF;
        vq.post(head, OUT, len, in, len);
        kick.signal();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (vq.usedIdx() != expected) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no used entry");
            }
            Thread.sleep(1);
        }
        assertEquals(len, vq.usedLen(expected - 1));
        assertEquals(SplitRing.USED_RING, SplitRing.USED_RING);
    }

    private static BitSet marked(MemorySegment log) {
        return BitSet.valueOf(log.toArray(ValueLayout.JAVA_BYTE));
    }
}

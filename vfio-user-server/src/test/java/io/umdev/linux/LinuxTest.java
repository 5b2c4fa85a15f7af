package io.umdev.linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class LinuxTest {
    private static boolean fdIsOpen(int fd) {
        return Files.exists(Path.of("/proc/self/fd/" + fd));
    }

    @Test
    void memfdMappingsShareTheirBytes() throws Exception {
        try (OwnedFd fd = Memfd.create("test", 2 * MappedMemory.PAGE_SIZE);
                MappedMemory a = MappedMemory.map(fd, 0, 2 * MappedMemory.PAGE_SIZE, true);
                MappedMemory b = MappedMemory.map(fd, MappedMemory.PAGE_SIZE + 8, 64, false)) {
            a.segment().set(JAVA_LONG, MappedMemory.PAGE_SIZE + 8, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, b.segment().get(JAVA_LONG, 0));
            assertEquals(64, b.length());
        }
    }

    @Test
    void readOnlyMappingRefusesWritesWithoutFaulting() throws Exception {
        try (OwnedFd fd = Memfd.create("ro", MappedMemory.PAGE_SIZE);
                MappedMemory ro = MappedMemory.map(fd, 0, MappedMemory.PAGE_SIZE, false)) {
            assertThrows(IllegalArgumentException.class, () -> ro.segment().set(JAVA_LONG, 0, 1L));
        }
    }

    @Test
    void accessAfterUnmapIsAnExceptionNotACrash() throws Exception {
        MemorySegment segment;
        try (OwnedFd fd = Memfd.create("gone", MappedMemory.PAGE_SIZE);
                MappedMemory m = MappedMemory.map(fd, 0, MappedMemory.PAGE_SIZE, true)) {
            segment = m.segment();
        }
        MemorySegment unmapped = segment;
        assertThrows(IllegalStateException.class, () -> unmapped.get(JAVA_LONG, 0));
    }

    @Test
    void mappingRejectsBadRanges() throws Exception {
        try (OwnedFd fd = Memfd.create("bad", MappedMemory.PAGE_SIZE)) {
            assertEquals(Errno.EINVAL, assertThrows(LinuxException.class, () -> MappedMemory.map(fd, 0, 0, true)).errno());
            assertEquals(Errno.EINVAL,
                    assertThrows(LinuxException.class, () -> MappedMemory.map(fd, Long.MAX_VALUE, 16, true)).errno());
        }
    }

    @Test
    void fileStatReportsMemfdSize() throws Exception {
        try (OwnedFd fd = Memfd.create("stat", 3 * MappedMemory.PAGE_SIZE)) {
            FileStat stat = FileStat.of(fd);
            assertTrue(stat.isRegularFile());
            assertEquals(3 * MappedMemory.PAGE_SIZE, stat.size());
        }
        try (EventFd event = EventFd.create()) {
            assertFalse(FileStat.of(event.fd()).isRegularFile());
        }
    }

    @Test
    void eventfdCountsSignals() throws Exception {
        try (EventFd event = EventFd.createNonBlocking()) {
            assertEquals(0, event.read());
            assertTrue(event.signal());
            assertTrue(event.signal());
            assertEquals(2, event.read());
            assertEquals(0, event.read());
        }
    }

    @Test
    void signalAfterCloseIsRefused() throws Exception {
        EventFd event = EventFd.create();
        event.close();
        assertFalse(event.signal());
        assertThrows(LinuxException.class, event::read);
    }

    @Test
    void closeWaitsForTheLastUse() throws Exception {
        OwnedFd fd = Memfd.create("use", 16);
        int number = fd.fd();
        assertTrue(fd.acquire());
        fd.close();
        assertFalse(fd.isOpen());
        assertFalse(fd.acquire());
        assertTrue(fdIsOpen(number), "descriptor closed while still in use");
        fd.release();
        assertFalse(fdIsOpen(number));
        fd.close();
    }

    @Test
    void duplicateIsIndependent() throws Exception {
        OwnedFd original = Memfd.create("dup", MappedMemory.PAGE_SIZE);
        OwnedFd copy = original.duplicate();
        original.close();
        try (copy; MappedMemory m = MappedMemory.map(copy, 0, MappedMemory.PAGE_SIZE, true)) {
            m.segment().set(JAVA_LONG, 0, 7L);
            assertEquals(7L, m.segment().get(JAVA_LONG, 0));
        }
    }

    @Test
    void pollSeesAnEventfdBecomeReadable() throws Exception {
        try (EventFd event = EventFd.createNonBlocking()) {
            assertEquals(0, Poll.poll(event.fd().fd(), Poll.POLLIN, 0));
            event.signal();
            assertEquals(Poll.POLLIN, Poll.poll(event.fd().fd(), Poll.POLLIN, 1000) & Poll.POLLIN);
        }
    }

    @Test
    void pinnedThreadRunsOnItsCpu() throws Exception {
        AtomicInteger seen = new AtomicInteger(-1);
        Thread thread = new Thread(() -> {
            try {
                CpuAffinity.setCurrentThread(0);
                seen.set(CpuAffinity.currentCpu());
            } catch (LinuxException e) {
                seen.set(-2);
            }
        });
        thread.start();
        thread.join();
        assertEquals(0, seen.get());
    }

    @Test
    void knowsWhoItRunsAs() {
        assertEquals(Long.parseLong(System.getProperty("test.expected.uid", String.valueOf(ProcessIdentity.uid()))),
                ProcessIdentity.uid());
        assertTrue(ProcessIdentity.uid() >= 0);
    }
}

package io.umdev.vfiouser.dma;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.testing.OpenFiles;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * Reader threads loop through reader sections while another thread maps and unmaps the ranges they
 * read: nothing crashes, nothing but DmaException (EFAULT, for a range not mapped at that moment)
 * comes out, every byte read is the file's, and afterwards no descriptor or mapping is left.
 */
class DmaTableConcurrencyTest {
    private static final long P = DmaTable.PAGE_SIZE;
    private static final long FILE_IOVA = 0x10_0000;
    private static final long MESSAGE_IOVA = 0x20_0000;
    private static final long PATTERN = 0x5a5a_5a5a_5a5a_5a5aL;
    private static final int READERS = 3;
    private static final int CYCLES = 200;

    @Test
    void readersRacingMapAndUnmapSeeOnlyMappedBytesOrDmaExceptions() throws Exception {
        long descriptors = OpenFiles.descriptors();
        long mappings = OpenFiles.memfdMappings();
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        try (OwnedFd ram = Memfd.create("stress", 2 * P); MappedMemory mine = MappedMemory.map(ram, 0, 2 * P, true)) {
            mine.segment().fill((byte) 0x5a);
            DmaTable table = new DmaTable(4);
            table.setMessenger(new DmaMessenger() {
                @Override
                public void dmaRead(long iova, MemorySegment dst) {
                    dst.fill((byte) 0x5a);
                }

                @Override
                public void dmaWrite(long iova, MemorySegment src) {
                }
            });
            AtomicBoolean stop = new AtomicBoolean();
            CountDownLatch started = new CountDownLatch(READERS);
            CountDownLatch hit = new CountDownLatch(READERS);
            List<Thread> readers = new ArrayList<>();
            for (int r = 0; r < READERS; r++) {
                int id = r;
                readers.add(Thread.ofPlatform().name("dma-reader-" + r).daemon().start(() -> {
                    MemorySegment buffer = MemorySegment.ofArray(new byte[16]);
                    boolean counted = false;
                    started.countDown();
                    for (long i = 0; !stop.get(); i++) {
                        long offset = ((i * 8 + id * 24) % (2 * P - 16)) & ~7L;
                        try {
                            if ((i & 1) == 0) {
                                int ticket = table.enter();
                                try {
                                    MemorySegment s = table.segment(FILE_IOVA + offset, 16, DmaDirection.READ);
                                    if (s.get(JAVA_LONG_UNALIGNED, 0) != PATTERN || s.get(JAVA_LONG_UNALIGNED, 8) != PATTERN) {
                                        failures.add(new AssertionError("read a byte that is not the file's"));
                                    }
                                } finally {
                                    table.exit(ticket);
                                }
                            } else {
                                long iova = (i & 2) == 0 ? FILE_IOVA : MESSAGE_IOVA;
                                table.read(iova + offset, buffer);
                                if (buffer.get(JAVA_LONG_UNALIGNED, 0) != PATTERN) {
                                    failures.add(new AssertionError("read() returned bytes that are not the file's"));
                                }
                            }
                            if (!counted) {
                                counted = true;
                                hit.countDown();
                            }
                        } catch (DmaException e) {
                            if (e.errno() != Errno.EFAULT) {
                                failures.add(e);
                            }
                        } catch (Throwable t) {
                            failures.add(t);
                            return;
                        }
                    }
                }));
            }
            assertTrue(started.await(10, SECONDS));

            Thread mapper = Thread.ofPlatform().name("dma-mapper").daemon().start(() -> {
                try {
                    for (int i = 0; i < CYCLES; i++) {
                        table.map(FILE_IOVA, 2 * P, true, (i & 1) == 0, ram.duplicate(), 0);
                        table.map(MESSAGE_IOVA, 2 * P, true, true, null, 0);
                        if (i % 3 == 0) {
                            table.unmapAll();
                        } else {
                            table.unmap(MESSAGE_IOVA, 2 * P);
                            table.unmap(FILE_IOVA, 2 * P);
                        }
                    }
                    // leave the ranges mapped until every reader has read them at least once
                    table.map(FILE_IOVA, 2 * P, true, false, ram.duplicate(), 0);
                    table.map(MESSAGE_IOVA, 2 * P, true, false, null, 0);
                } catch (Throwable t) {
                    failures.add(t);
                }
            });
            mapper.join(60_000);
            assertFalse(mapper.isAlive(), "the mapper is stuck");
            boolean everyReaderRead = hit.await(10, SECONDS);
            stop.set(true);
            for (Thread reader : readers) {
                reader.join(10_000);
                assertFalse(reader.isAlive(), reader.getName() + " is stuck");
            }
            assertTrue(failures.isEmpty(), () -> "failures: " + failures);
            assertTrue(everyReaderRead, "a reader never found the range mapped");
            table.close();
            assertEquals(0, table.size());
        }
        assertEquals(descriptors, OpenFiles.descriptors(), "descriptors leaked");
        assertEquals(mappings, OpenFiles.memfdMappings(), "mappings leaked");
    }
}

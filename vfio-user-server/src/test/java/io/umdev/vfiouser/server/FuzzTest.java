package io.umdev.vfiouser.server;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.linux.Poll;
import io.umdev.vfiouser.client.RegionInfo;
import io.umdev.vfiouser.client.VfioUserClient;
import io.umdev.vfiouser.protocol.DeviceInfoPayload;
import io.umdev.vfiouser.protocol.DmaMapPayload;
import io.umdev.vfiouser.server.FuzzConnection.Expectation;
import io.umdev.vfiouser.server.Fuzzer.Msg;
import io.umdev.vfiouser.testing.OpenFiles;
import io.umdev.vfiouser.testing.ScratchDevice;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * Sends at least 100,000 random and mutated messages over real sockets to one server with a
 * {@link ScratchDevice}; afterwards the same server must serve a well-behaved client correctly, and the
 * process must hold exactly the descriptors and memfd mappings it held before.
 *
 * <p>The fuzzer ({@link Fuzzer}) opens one raw connection after another ({@link FuzzConnection}): most
 * negotiate properly and then send batches of well-formed, field-fuzzed, byte-mutated and random
 * commands, unsolicited replies, oversized messages, descriptors of every kind, device DMA through
 * whatever is mapped; each batch ends with a GET_INFO whose reply proves that every reply due came back,
 * in order, with the right shape. Some connections fuzz the negotiation itself; some end by breaking the
 * byte stream (the server must hang up), some by hanging up with replies still due; now and then a second
 * client must be refused EBUSY. Between connections the device must have dropped all the last client
 * gave it. Every message the server sends is checked whatever the state of the stream (see
 * {@link FuzzConnection}); so is standard error, for server errors, escaped exceptions and descriptors
 * that only the garbage collector closed.
 *
 * <p>Reproduce a run with {@code -Dumdev.fuzz.seed=<seed>} (printed in the summary line); the message
 * sequence is fixed by the seed, thread timing is not. {@code -Dumdev.fuzz.messages=<n>} changes the
 * number of messages; {@code -Dumdev.fuzz.rawfds=true} reports, connection by connection, descriptors
 * received by SCM_RIGHTS that nobody took over (slower).
 */
class FuzzTest {
    private static final long MESSAGES = Long.getLong("umdev.fuzz.messages", 100_000);
    private static final int MAX_BATCH = 48;
    private static final long RAM_IOVA = 0x4000_0000L;
    private static final int RAM_SIZE = 1 << 20;

    @TempDir
    Path dir;

    private final FuzzStats stats = new FuzzStats();
    private final Deque<Msg> recent = new ArrayDeque<>();
    private int reportedFailures;
    /** How the connection being run ends; for the leak diagnostics. */
    private String mode = "";
    /** The last few connections, to say what preceded a descriptor count that went up and stayed up. */
    private final Deque<Finished> finished = new ArrayDeque<>();
    private long lowestFds;
    private int fdsAbove;
    private final List<String> knownRawFds = new ArrayList<>();

    /** A connection as the leak diagnostics remember it. */
    private record Finished(int number, String mode, long fdsAfter, List<Msg> messages) {
        @Override
        public String toString() {
            return "connection " + number + " (" + mode + "), descriptors after: " + fdsAfter + "\n    "
                    + String.join("\n    ", messages.stream().map(Msg::toString).toList());
        }
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void survivesRandomAndMutatedMessages() throws Exception {
        long testStart = System.nanoTime();
        long seed = Long.getLong("umdev.fuzz.seed", new SplittableRandom().nextLong());
        ServerOptions options = ServerOptions.defaults()
                .withDmaReplyTimeout(Duration.ofMillis(100))
                .withNegotiationTimeout(Duration.ofSeconds(2));
        PrintStream originalErr = System.err;
        LogWatch log = new LogWatch(originalErr);
        System.setErr(new PrintStream(log, true, StandardCharsets.UTF_8));
        try (ScratchDevice device = new ScratchDevice();
                VfioUserServer server = VfioUserServer.start(dir.resolve("fuzz.sock"), device, options)) {
            // Load every class the checks use and let the JVM open what it keeps open, then count.
            serveWellBehavedClient(server, device);
            settle();
            long fdsBefore = OpenFiles.descriptors();
            long mappingsBefore = OpenFiles.memfdMappings();
            Map<Integer, String> fdTableBefore = fdTable();

            long start = System.nanoTime();
            SplittableRandom random = new SplittableRandom(seed);
            try (FuzzFds pool = new FuzzFds(dir)) {
                Fuzzer fuzzer = new Fuzzer(random, pool, options.maxMessageSize());
                int connection = 0;
                while (stats.messages.sum() < MESSAGES && stats.failures.isEmpty()) {
                    runConnection(server, device, fuzzer, ++connection);
                }
            }
            long fuzzNanos = System.nanoTime() - start;

            // The same server, well-behaved client: everything still works.
            serveWellBehavedClient(server, device);
            assertFalse(server.hasClient());

            long[] after = awaitCounts(fdsBefore, mappingsBefore);
            String summary = String.format(
                    "FUZZ seed=%d messages=%d bytes=%d connections=%d negotiation-fuzz=%d stream-breaks=%d "
                            + "server-drops=%d refused-second-clients=%d sync-probes=%d checked-replies=%d ok=%d "
                            + "errors=%d %s dma-requests=%d dma-answers=%d fds-sent=%d fds-received=%d oversized=%d "
                            + "fd %d->%d memfd-maps %d->%d duration=%.1fs (fuzz %.1fs) kinds=%s",
                    seed, stats.messages.sum(), stats.bytes.sum(), stats.connections.sum(), stats.negotiationFuzz.sum(),
                    stats.streamBreaks.sum(), stats.serverDrops.sum(), stats.refusedSecondClients.sum(),
                    stats.syncProbes.sum(), stats.checkedReplies.sum(), stats.repliesOk.sum(), stats.errorReplies(),
                    stats.errorsByErrno(), stats.dmaRequests.sum(), stats.dmaAnswers.sum(), stats.fdsSent.sum(),
                    stats.fdsReceived.sum(), stats.oversized.sum(), fdsBefore, after[0], mappingsBefore, after[1],
                    (System.nanoTime() - testStart) / 1e9, fuzzNanos / 1e9, stats.kinds());
            System.out.println(summary);
            originalErr.println(summary);

            if (!stats.failures.isEmpty()) {
                fail("seed " + seed + " (rerun with -Dumdev.fuzz.seed=" + seed + "): " + stats.failures.size()
                        + " violations:\n" + String.join("\n", stats.failures));
            }
            assertTrue(stats.messages.sum() >= MESSAGES, "sent " + stats.messages.sum());
            if (after[0] != fdsBefore || after[1] != mappingsBefore) {
                fail("leak (seed " + seed + "): descriptors " + fdsBefore + " -> " + after[0] + ", memfd mappings "
                        + mappingsBefore + " -> " + after[1] + "; new descriptors: " + newDescriptors(fdTableBefore));
            }
            assertEquals(List.of(), log.flagged(), "log lines that reveal a bug (seed " + seed + ")");
        } finally {
            System.setErr(originalErr);
        }
    }

    // ---- one connection ---------------------------------------------------------------------------

    private void runConnection(VfioUserServer server, ScratchDevice device, Fuzzer fuzzer, int number)
            throws Exception {
        SplittableRandom r = fuzzer.random();
        if (!server.awaitNoClient(10, TimeUnit.SECONDS)) {
            stats.fail("connection " + number + ": the previous client was not torn down within 10 s");
            return;
        }
        checkTornDown(device, number);
        watchDescriptors(number);
        int maxFds = 16;
        long maxXfer = 1 << 20;
        boolean multiple = true;
        boolean json = true;
        int caps = r.nextInt(100);
        if (caps < 3) {
            json = false;
            maxFds = 1;
            multiple = false;
        } else if (caps < 6) {
            maxFds = 0;
        } else if (caps < 9) {
            maxFds = 1;
        } else if (caps < 11) {
            maxXfer = 4096;
        } else if (caps < 13) {
            multiple = false;
        }
        boolean negotiationFuzz = r.nextInt(12) == 0;
        fuzzer.newConnection(maxFds, multiple);
        recent.clear();
        String label = "connection " + number;
        stats.connections.increment();
        if (negotiationFuzz) {
            // What the fuzzed first message announces is anyone's guess: hold the server to its own limits.
            maxFds = ServerOptions.DEFAULT_MAX_MSG_FDS;
            maxXfer = ServerOptions.DEFAULT_MAX_DATA_XFER_SIZE;
        }
        try (FuzzConnection c = FuzzConnection.open(server.socketPath(), stats, r.split(), label, !negotiationFuzz,
                maxFds, maxXfer)) {
            awaitAdmitted(server, c, label);
            if (negotiationFuzz) {
                mode = "negotiation";
                fuzzNegotiation(c, fuzzer);
            } else {
                fuzzSession(server, c, fuzzer, label, fuzzer.version(maxFds, maxXfer, multiple, json));
            }
        }
        if (stats.failures.size() > reportedFailures) {
            stats.fail(label + ": last messages sent:\n  "
                    + String.join("\n  ", recent.stream().map(Msg::toString).toList()));
            reportedFailures = stats.failures.size();
        }
    }

    /**
     * Waits until the server has taken this connection on. Until then awaitNoClient cannot see it: a
     * connection closed before the server accepted it would be accepted later and hold the device
     * while the next one is refused EBUSY.
     */
    private void awaitAdmitted(VfioUserServer server, FuzzConnection c, String label) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!server.hasClient() && !c.gone()) {
            if (System.nanoTime() - deadline > 0) {
                stats.fail(label + ": the server did not take the connection on within 10 s");
                return;
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    /** The first message is not a proper VERSION (or is, with something wrong around it). */
    private void fuzzNegotiation(FuzzConnection c, Fuzzer fuzzer) throws InterruptedException {
        stats.negotiationFuzz.increment();
        SplittableRandom r = fuzzer.random();
        Msg first = fuzzer.firstMessage();
        if (first == null) {
            return;
        }
        if (!send(c, first)) {
            return;
        }
        int more = r.nextInt(6);
        for (int i = 0; i < more && !c.gone(); i++) {
            for (Msg m : fuzzer.next()) {
                if (!send(c, m)) {
                    return;
                }
            }
        }
        // Give the server a moment to answer (or hang up) before we do.
        for (int i = 0; i < 20 && !c.gone(); i++) {
            Thread.sleep(0, 100_000);
        }
    }

    private void fuzzSession(VfioUserServer server, FuzzConnection c, Fuzzer fuzzer, String label, Msg version)
            throws Exception {
        SplittableRandom r = fuzzer.random();
        mode = "session";
        c.send(version.bytes(), version.fds(),
                new Expectation(version.id(), version.command(), true, true, version.bytes().length, "version"));
        count(version);
        if (!c.awaitSync("VERSION") || c.serverCapabilities() == null) {
            stats.fail(label + ": a well-formed VERSION was not accepted");
            return;
        }
        int roll = r.nextInt(10);
        int budget = roll < 2 ? 1 + r.nextInt(10) : roll < 8 ? 10 + r.nextInt(500) : 500 + r.nextInt(2500);
        while (budget > 0) {
            int batch = 1 + r.nextInt(Math.min(budget, MAX_BATCH));
            int sent = 0;
            while (sent < batch) {
                for (Msg m : fuzzer.next()) {
                    if (m.breaks()) {
                        mode = "broke the stream: " + m.kind();
                        breakStream(c, fuzzer, m);
                        return;
                    }
                    if (!send(c, m)) {
                        return;
                    }
                    sent++;
                }
            }
            budget -= sent;
            if (r.nextInt(60) == 0) {
                mode = "hung up with replies due";
                return; // hang up with replies still on their way
            }
            Msg probe = fuzzer.command(Fuzzer.GET_INFO, 0, false, "sync");
            if (probe.wantsReply()) {
                stats.syncProbes.increment();
                if (!c.send(probe.bytes(), probe.fds(), new Expectation(probe.id(), probe.command(), true, true, -1, "sync"))
                        || !c.awaitSync("batch of " + sent)) {
                    return;
                }
            }
            if (r.nextInt(40) == 0) {
                mode += ", second client refused";
                secondClientIsRefused(server, fuzzer, label);
            }
        }
    }

    /** Sends something that puts the stream out of step, maybe a little more, then hangs up. */
    private void breakStream(FuzzConnection c, Fuzzer fuzzer, Msg breaker) {
        stats.streamBreaks.increment();
        c.desync();
        if (!send(c, breaker)) {
            return;
        }
        int more = fuzzer.random().nextInt(4);
        for (int i = 0; i < more; i++) {
            for (Msg m : fuzzer.next()) {
                if (!send(c, m)) {
                    return;
                }
            }
        }
    }

    private boolean send(FuzzConnection c, Msg m) {
        if (m.breaks()) {
            c.desync();
        }
        Expectation e = m.wantsReply() ? new Expectation(m.id(), m.command(), false, m.mustSucceed(), m.readCount(), m)
                : null;
        remember(m);
        if (!c.send(m.bytes(), m.fds(), e)) {
            return false;
        }
        count(m);
        return true;
    }

    private void count(Msg m) {
        stats.messages.increment();
        stats.bytes.add(m.bytes().length);
        stats.fdsSent.add(m.fds().length);
        stats.kind(m.kind().replaceAll(":.*", ""));
        if (m.kind().startsWith("oversized")) {
            stats.oversized.increment();
        }
    }

    private void remember(Msg m) {
        if (recent.size() == 64) {
            recent.removeFirst();
        }
        recent.addLast(m);
    }

    /** While a client is connected, a second one is told EBUSY in answer to its VERSION, then hung up on. */
    private void secondClientIsRefused(VfioUserServer server, Fuzzer fuzzer, String label) throws Exception {
        Msg version = fuzzer.version(16, 1 << 20, true, true);
        try (AFUNIXSocketChannel second = AFUNIXSocketChannel.open(AFUNIXSocketAddress.of(server.socketPath()))) {
            second.write(ByteBuffer.wrap(version.bytes()));
            int fd = FileDescriptorCast.using(second.getFileDescriptor()).as(Integer.class);
            ByteBuffer header = ByteBuffer.allocate(FuzzConnection.HEADER + 1).order(ByteOrder.nativeOrder());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (true) {
                int left = (int) TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0 || Poll.poll(fd, Poll.POLLIN, left) == 0) {
                    stats.fail(label + ": a second client got no answer within 5 s");
                    return;
                }
                if (second.read(header) < 0) {
                    break;
                }
            }
            header.flip();
            if (header.remaining() != FuzzConnection.HEADER || header.getInt(8) != (FuzzConnection.TYPE_REPLY | FuzzConnection.ERROR)
                    || header.getInt(12) != Errno.EBUSY || header.getShort(0) != (short) version.id()) {
                stats.fail(label + ": a second client was answered " + header.remaining() + " bytes, flags 0x"
                        + Integer.toHexString(header.remaining() >= 12 ? header.getInt(8) : -1) + ", not EBUSY then EOF");
            }
            stats.refusedSecondClients.increment();
        }
    }

    /**
     * Diagnostics, not assertions (the count at the end is the assertion): reports the connections
     * before a descriptor count that went up and stayed up for four connections, and with
     * {@code -Dumdev.fuzz.rawfds=true} every new descriptor without O_CLOEXEC (received by SCM_RIGHTS and
     * never taken over) as soon as it appears.
     */
    private void watchDescriptors(int number) throws IOException {
        long fds = OpenFiles.descriptors();
        finished.addLast(new Finished(number - 1, mode, fds, List.copyOf(recent)));
        if (finished.size() > 5) {
            finished.removeFirst();
        }
        if (Boolean.getBoolean("umdev.fuzz.rawfds")) {
            List<String> raw = rawDescriptors();
            raw.removeAll(knownRawFds);
            if (number > 1 && !raw.isEmpty()) {
                System.out.println("RAW-FD before connection " + number + ": " + raw + "\n  " + finishedText());
            }
            knownRawFds.addAll(raw);
        }
        if (lowestFds == 0 || fds <= lowestFds) {
            lowestFds = fds;
            fdsAbove = 0;
        } else if (++fdsAbove == 4) {
            System.out.println("LEAK-SUSPECT before connection " + number + ": descriptors " + lowestFds + " -> " + fds
                    + "\n  " + finishedText());
            lowestFds = fds;
            fdsAbove = 0;
        }
    }

    private String finishedText() {
        return String.join("\n  ", finished.stream().map(Finished::toString).toList());
    }

    /** Between clients the device holds nothing of the last one. */
    private void checkTornDown(ScratchDevice device, int number) {
        if (device.dma().size() != 0) {
            stats.fail("connection " + number + ": " + device.dma().size() + " DMA ranges survived the last client");
        }
        for (int index = 0; index < ScratchDevice.NUM_IRQS; index++) {
            for (int v = 0; v < device.irq(index).count(); v++) {
                if (device.irq(index).hasTrigger(v)) {
                    stats.fail("connection " + number + ": IRQ " + index + "/" + v + " kept the last client's eventfd");
                }
            }
        }
    }

    // ---- the well-behaved client --------------------------------------------------------------------

    /** Device info, region access, an interrupt and the DMA engine through a memfd, then unmap. */
    private static void serveWellBehavedClient(VfioUserServer server, ScratchDevice device) throws Exception {
        assertTrue(server.awaitNoClient(10, TimeUnit.SECONDS), "the server still has a client");
        try (VfioUserClient client = VfioUserClient.connect(server.socketPath());
                OwnedFd ram = Memfd.create("fuzz-check-ram", RAM_SIZE);
                MappedMemory local = MappedMemory.map(ram, 0, RAM_SIZE, true);
                EventFd done = EventFd.createNonBlocking()) {
            DeviceInfoPayload info = client.deviceInfo();
            assertEquals(ScratchDevice.NUM_REGIONS, info.numRegions());
            assertEquals(ScratchDevice.NUM_IRQS, info.numIrqs());
            RegionInfo bar1 = client.regionInfo(ScratchDevice.BAR1);
            try {
                assertEquals(ScratchDevice.BAR1_SIZE, bar1.size());
                assertTrue(bar1.mappable());
                assertNotNull(bar1.fd());
            } finally {
                if (bar1.fd() != null) {
                    bar1.fd().close();
                }
            }

            MemorySegment value = MemorySegment.ofArray(new byte[8]);
            value.set(JAVA_LONG_UNALIGNED, 0, 0x0123_4567_89ab_cdefL);
            client.regionWrite(ScratchDevice.BAR0, 0x80, value);
            assertEquals(0x0123_4567_89ab_cdefL, client.regionRead(ScratchDevice.BAR0, 0x80, 8).get(JAVA_LONG_UNALIGNED, 0));
            client.regionWrite(ScratchDevice.BAR1, 0x20, value);
            assertEquals(0x0123_4567_89ab_cdefL, device.bar1().get(JAVA_LONG_UNALIGNED, 0x20));

            client.setIrqEventFds(ScratchDevice.MSIX, ScratchDevice.DONE_VECTOR, List.of(done));
            client.dmaMap(RAM_IOVA, RAM_SIZE, DmaMapPayload.FLAG_READ | DmaMapPayload.FLAG_WRITE, ram, 0, local.segment());
            for (long mode : new long[] {ScratchDevice.GO_INLINE, ScratchDevice.GO_DEVICE_THREAD}) {
                byte[] pattern = new byte[4096];
                new SplittableRandom(mode).nextBytes(pattern);
                MemorySegment.copy(MemorySegment.ofArray(pattern), 0, local.segment(), 0, pattern.length);
                long dst = 0x10000 * mode;
                local.segment().asSlice(dst, pattern.length).fill((byte) 0);
                copy(client, RAM_IOVA, RAM_IOVA + dst, pattern.length, mode);
                assertEquals(1, awaitSignal(done), "DMA completion interrupt (mode " + mode + ")");
                assertEquals(0, device.lastStatus());
                assertEquals(0, client.regionRead(ScratchDevice.BAR0, ScratchDevice.REG_STATUS, 8).get(JAVA_LONG_UNALIGNED, 0));
                assertArrayEquals(pattern, local.segment().asSlice(dst, pattern.length).toArray(JAVA_BYTE));
            }
            client.dmaUnmap(RAM_IOVA, RAM_SIZE);
            assertEquals(0, device.dma().size());
            copy(client, RAM_IOVA, RAM_IOVA + 0x10000, 64, ScratchDevice.GO_INLINE);
            assertEquals(Errno.EFAULT, device.lastStatus(), "DMA after unmap");
            client.setIrqEventFds(ScratchDevice.MSIX, ScratchDevice.DONE_VECTOR, Collections.singletonList(null));
            assertFalse(device.irq(ScratchDevice.MSIX).hasTrigger(ScratchDevice.DONE_VECTOR));
        }
        assertTrue(server.awaitNoClient(10, TimeUnit.SECONDS), "the well-behaved client was not torn down");
        assertEquals(0, device.dma().size());
    }

    private static void copy(VfioUserClient client, long src, long dst, long length, long mode) throws IOException {
        MemorySegment v = MemorySegment.ofArray(new byte[8]);
        long[] registers = {ScratchDevice.REG_SRC, ScratchDevice.REG_DST, ScratchDevice.REG_LEN, ScratchDevice.REG_GO};
        long[] values = {src, dst, length, mode};
        for (int i = 0; i < registers.length; i++) {
            v.set(JAVA_LONG_UNALIGNED, 0, values[i]);
            client.regionWrite(ScratchDevice.BAR0, registers[i], v);
        }
    }

    private static long awaitSignal(EventFd fd) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < deadline) {
            long n = fd.read();
            if (n != 0) {
                return n;
            }
            Thread.sleep(1);
        }
        return 0;
    }

    // ---- leak accounting ----------------------------------------------------------------------------

    private static void settle() throws InterruptedException {
        System.gc();
        Thread.sleep(50);
    }

    /** Waits (a few seconds at most, collecting garbage) for the counts to come back; returns the last seen. */
    private static long[] awaitCounts(long fds, long mappings) throws InterruptedException {
        long[] now = {OpenFiles.descriptors(), OpenFiles.memfdMappings()};
        for (int i = 0; i < 50 && (now[0] != fds || now[1] != mappings); i++) {
            settle();
            now = new long[] {OpenFiles.descriptors(), OpenFiles.memfdMappings()};
        }
        return now;
    }

    private static Map<Integer, String> fdTable() throws IOException {
        Map<Integer, String> table = new TreeMap<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : fds.toList()) {
                try {
                    table.put(Integer.parseInt(p.getFileName().toString()), Files.readSymbolicLink(p).toString());
                } catch (IOException e) {
                    // closed meanwhile (the directory listing's own descriptor)
                }
            }
        }
        return table;
    }

    /** Descriptors without O_CLOEXEC other than the JVM's own (jars, pipes): SCM_RIGHTS receipts. */
    private static List<String> rawDescriptors() throws IOException {
        List<String> raw = new ArrayList<>();
        for (Map.Entry<Integer, String> e : fdTable().entrySet()) {
            String target = e.getValue();
            if (e.getKey() < 3 || target.endsWith(".jar") || target.startsWith("pipe:") || target.startsWith("/proc/")) {
                continue;
            }
            try {
                String flags = Files.readString(Path.of("/proc/self/fdinfo/" + e.getKey())).lines()
                        .filter(l -> l.startsWith("flags:")).findFirst().orElse("flags: 0").substring(6).trim();
                if ((Integer.parseInt(flags, 8) & 02000000) == 0) {
                    raw.add(e.getKey() + "->" + target);
                }
            } catch (IOException ex) {
                // closed meanwhile
            }
        }
        return raw;
    }

    /** The descriptors not there before, with their fdinfo (flags tell a dup, O_CLOEXEC, from a raw receive). */
    private static String newDescriptors(Map<Integer, String> before) throws IOException {
        List<String> added = new ArrayList<>();
        for (Map.Entry<Integer, String> e : fdTable().entrySet()) {
            if (!e.getValue().equals(before.get(e.getKey()))) {
                String info;
                try {
                    info = Files.readString(Path.of("/proc/self/fdinfo/" + e.getKey())).replace('\n', ' ').replace('\t', ' ');
                } catch (IOException ex) {
                    info = ex.toString();
                }
                added.add(e.getKey() + "->" + e.getValue() + " [" + info.trim() + "]");
            }
        }
        return added.toString();
    }

    /**
     * Passes standard error through and remembers the lines that reveal a bug: an exception that
     * escaped a server thread or a device, an error the server logged, a descriptor only the garbage
     * collector closed.
     */
    private static final class LogWatch extends OutputStream {
        private static final List<String> SIGNS = List.of(" ERROR ", "Exception in thread", "was never closed");
        private final PrintStream out;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();
        private final List<String> flagged = Collections.synchronizedList(new ArrayList<>());

        LogWatch(PrintStream out) {
            this.out = out;
        }

        @Override
        public synchronized void write(int b) {
            out.write(b);
            if (b == '\n') {
                check();
            } else {
                line.write(b);
            }
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            out.write(b, off, len);
            for (int i = off; i < off + len; i++) {
                if (b[i] == '\n') {
                    check();
                } else {
                    line.write(b[i]);
                }
            }
        }

        private void check() {
            String text = line.toString(StandardCharsets.UTF_8);
            line.reset();
            if (SIGNS.stream().anyMatch(text::contains) && flagged.size() < 20) {
                flagged.add(text);
            }
        }

        List<String> flagged() {
            return new ArrayList<>(flagged);
        }

        @Override
        public void flush() {
            out.flush();
        }
    }
}

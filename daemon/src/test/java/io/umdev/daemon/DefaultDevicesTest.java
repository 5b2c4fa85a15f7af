package io.umdev.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.umdev.daemon.cli.Umdevctl;
import io.umdev.daemon.json.Json;
import io.umdev.emudev.pci.PciRegisters;
import io.umdev.emudev.vfiouser.VfioUserAdapter;
import io.umdev.linux.EventFd;
import io.umdev.vfiouser.client.VfioUserClient;
import io.umdev.virtio.pci.PciTestDriver;
import io.umdev.virtio.pci.VirtioPciLayout;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.VirtioFeature;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.testing.SplitDriver;
import java.io.RandomAccessFile;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon with its embedded default configuration, in this JVM: the sim-blk and sim-net parents are
 * installed, the virtio-pci driver binds both instances and serves them on {@code blk0.sock} and
 * {@code net0.sock} in the run directory; {@code umdevctl show} prints the socket and a QEMU command line;
 * a block write and read through the vfio-user client reach sim-blk and its backing file.
 */
class DefaultDevicesTest {
    private static final String BLK0 = "b1c00000-0000-4000-8000-000000000000";
    private static final String NET0 = "7e700000-0000-4000-8000-000000000000";
    private static final long BLK0_BYTES = 256L << 20;
    private static final long SECTOR = 8;
    private static final int BLOCK = 4096;
    private static final int RING_SIZE = 16;

    @TempDir
    Path dir;

    private static int configWord(VfioUserClient client, int offset) throws Exception {
        MemorySegment s = client.regionRead(VfioUserAdapter.CONFIG_REGION, offset, Short.BYTES);
        return Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
    }

    private JsonNode show(Path state, Path run, String uuid) throws Exception {
        StringWriter out = new StringWriter();
        var commandLine = Umdevctl.commandLine();
        commandLine.setOut(new PrintWriter(out));
        commandLine.setErr(new PrintWriter(new StringWriter()));
        int exit = commandLine.execute("--run-dir", run.toString(), "--state-dir", state.toString(), "show", "-u", uuid,
                "--json");
        assertEquals(0, exit, out::toString);
        return Json.parse(out.toString());
    }

    /**
     * A write then a read of sector {@value #SECTOR} on blk0 through the vfio-user client, as a guest's
     * virtio_pci would: memory the client DMA_MAPs, MSI-X eventfds, a split ring, posted doorbells. The
     * sim-blk parent reads the rings through the instance's DMA table, which the client's DMA_MAP filled.
     */
    private static byte[] blockWriteThenRead(Path socket) throws Exception {
        byte[] data = new byte[BLOCK];
        new Random(SECTOR).nextBytes(data);
        try (PciTestDriver d = new PciTestDriver(socket); EventFd irq = EventFd.createNonBlocking();
                EventFd config = EventFd.createNonBlocking()) {
            d.mapMemory();
            d.enableMsix();
            d.installMsix(0, irq);
            d.installMsix(1, config);
            int ok = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK;
            assertEquals(ok, d.negotiate(VirtioFeature.bits(VirtioFeature.VERSION_1, VirtioFeature.ACCESS_PLATFORM,
                    BlkSpec.F_FLUSH)));
            SplitDriver ring = d.ring(RING_SIZE);
            d.setUpQueue(0, ring, 0);
            d.setStatus(ok | DeviceStatus.DRIVER_OK);

            long out = PciTestDriver.BUFFERS + 0x1000;
            long in = PciTestDriver.BUFFERS + 0x4000;
            MemorySegment.copy(MemorySegment.ofArray(data), 0, d.memory.at(out, BLOCK), 0, BLOCK);
            ring.offer(ring.chain(d.blockRequest(BlkSpec.T_OUT, SECTOR, out, BLOCK)));
            d.kick(0);
            awaitUsed(ring, 1, irq);
            assertEquals(BlkSpec.S_OK, d.blockStatus());
            ring.offer(ring.chain(d.blockRequest(BlkSpec.T_IN, SECTOR, in, BLOCK)));
            d.kick(0);
            awaitUsed(ring, 2, irq);
            assertEquals(BlkSpec.S_OK, d.blockStatus());
            byte[] read = d.memory.at(in, BLOCK).toArray(ValueLayout.JAVA_BYTE);
            assertArrayEquals(data, read, "read back what was written");
            return read;
        }
    }

    private static void awaitUsed(SplitDriver ring, int used, EventFd irq) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        long signals = 0;
        while (ring.usedIdx() != used || signals == 0) {
            signals += irq.read();
            if (System.nanoTime() > deadline) {
                throw new AssertionError("used index " + ring.usedIdx() + ", wanted " + used + "; interrupts " + signals);
            }
            Thread.sleep(1);
        }
    }

    @Test
    void theDefaultConfigurationServesBlk0AndNet0AsVirtioPciFunctionsOnSocketsNamedAfterTheirLabels() throws Exception {
        Path state = dir.resolve("state");
        Path run = dir.resolve("run");
        DaemonOptions options = new DaemonOptions(state, run, List.of(UmdevPaths.plugins(state)), 64);
        try (Daemon daemon = DaggerDaemonComponent.factory().create(options, DaemonConfiguration.embedded()).daemon()) {
            daemon.start();
            Path blk0 = run.resolve("blk0.sock");
            Path net0 = run.resolve("net0.sock");
            assertTrue(Files.exists(blk0) && Files.exists(net0), "both sockets are in the run directory");
            Path image = state.resolve("blk0.img");
            assertEquals(BLK0_BYTES, Files.size(image), "blk0 is file-backed in the state directory");

            try (VfioUserClient client = VfioUserClient.connect(blk0)) {
                assertEquals(VirtioId.PCI_VENDOR, configWord(client, PciRegisters.VENDOR_ID));
                assertEquals(VirtioPciLayout.deviceId(VirtioId.BLOCK), configWord(client, PciRegisters.DEVICE_ID));
            }
            try (VfioUserClient client = VfioUserClient.connect(net0)) {
                assertEquals(VirtioPciLayout.deviceId(VirtioId.NET), configWord(client, PciRegisters.DEVICE_ID));
            }

            JsonNode shown = show(state, run, BLK0).path("instance");
            assertEquals("virtio-pci", shown.path("driver").asText());
            assertEquals(blk0.toString(), shown.path("socket").asText());
            String qemu = shown.path("qemu").asText();
            assertTrue(qemu.contains("\"driver\":\"vfio-user-pci\"") && qemu.contains(blk0.toString())
                    && qemu.contains("memory-backend-memfd") && qemu.contains("share=on"), qemu);
            assertEquals(net0.toString(), show(state, run, NET0).path("instance").path("socket").asText());

            byte[] written = blockWriteThenRead(blk0);
            byte[] onDisk = new byte[written.length];
            try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "r")) {
                file.seek(SECTOR * BlkSpec.SECTOR_SIZE);
                file.readFully(onDisk);
            }
            assertArrayEquals(written, onDisk, "what the client wrote through blk0 is in its backing file");
        }
        assertFalse(Files.exists(run.resolve("blk0.sock")), "unbinding removes the socket");
        assertFalse(Files.exists(run.resolve("net0.sock")));
    }
}

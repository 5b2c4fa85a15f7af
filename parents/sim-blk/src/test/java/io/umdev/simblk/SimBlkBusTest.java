package io.umdev.simblk;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.mdev.CreateRequest;
import io.umdev.mdev.MdevBus;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevInstance;
import io.umdev.mdev.ParentEnvironment;
import io.umdev.mdev.ParentPlugins;
import io.umdev.virtio.driver.VirtioBlockDisk;
import io.umdev.virtio.driver.VirtioInprocDriver;
import io.umdev.virtio.spec.VirtioId;
import io.umdev.virtio.transport.Polling;
import io.umdev.virtio.transport.SoftwareVirtioDevice;
import io.umdev.virtio.transport.VirtioDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sim-blk found by ServiceLoader, on a real bus, bound to the in-process driver. */
class SimBlkBusTest {
    private static final int POLLED_REQUESTS = 200;

    @TempDir
    Path dir;

    @Test
    void anInstanceOnTheBusIsAWorkingDiskWhoseFileOutlivesIt() throws Exception {
        Path file = dir.resolve("bus.img");
        UUID uuid = UUID.fromString("b1c00000-0000-4000-8000-0000000000aa");
        byte[] data = new byte[64 * 1024];
        new Random(11).nextBytes(data);
        VirtioInprocDriver driver = new VirtioInprocDriver();
        try (ParentPlugins plugins = ParentPlugins.load(getClass().getClassLoader(), List.of(),
                        new ParentEnvironment(dir));
                MdevBus bus = new MdevBus();
                Arena arena = Arena.ofConfined()) {
            bus.addParent(plugins.parents().stream().filter(p -> p.name().equals(SimBlkParent.NAME)).findFirst()
                    .orElseThrow());
            bus.addDriver(driver);
            MdevInstance instance = bus.create(CreateRequest.of(SimBlkParent.NAME, SimBlkParent.TYPE).withUuid(uuid)
                    .withAttribute("capacity", "8M").withAttribute("backing_file", file.toString())
                    .withAttribute("num_queues", "2").withDriverOverride(VirtioInprocDriver.NAME));

            VirtioDevice device = instance.device().unwrap(VirtioDevice.class).orElseThrow();
            assertEquals(VirtioId.BLOCK, device.deviceId());
            assertEquals(2, device.queueCount());
            VirtioBlockDisk disk = driver.blockDisk(uuid).orElseThrow();
            assertEquals((8 << 20) / 512, disk.capacity());
            MemorySegment src = arena.allocate(data.length).copyFrom(MemorySegment.ofArray(data));
            disk.write(2048, src);
            disk.flush();
            MemorySegment back = arena.allocate(data.length);
            disk.read(2048, back);
            assertEquals(-1, src.mismatch(back));
            assertEquals(uuid.toString().replace("-", "").substring(0, 20), disk.getId());

            Map<String, Long> stats = instance.device().statistics();
            assertTrue(stats.get("writes") >= 1, stats.toString());
            assertEquals(data.length, stats.get("written_bytes"));
            assertEquals(1L, stats.get("flushes"));
            assertEquals(1L, stats.get("syncs"));
            assertTrue(stats.get("q0.requests") >= 3, stats.toString());

            bus.remove(uuid);
            assertTrue(driver.blockDisk(uuid).isEmpty());
        }
        byte[] onDisk = Files.readAllBytes(file);
        assertEquals(8 << 20, onDisk.length);
        byte[] region = new byte[data.length];
        System.arraycopy(onDisk, 2048 * 512, region, 0, data.length);
        assertArrayEquals(data, region, "the data stays in the file after the instance is gone");
    }

    @Test
    void theBusRefusesADiskThatCannotStart() throws Exception {
        try (MdevBus bus = new MdevBus()) {
            bus.addParent(new SimBlkParent());
            MdevException e = assertThrows(MdevException.class, () -> bus.create(
                    CreateRequest.of(SimBlkParent.NAME, SimBlkParent.TYPE)
                            .withAttribute("backing_file", dir.resolve("absent.img").toString())
                            .withAttribute("read_only", "true")));
            assertEquals(Errno.EINVAL, e.errno());
            assertEquals("attrs.backing_file", e.field().orElseThrow());
            assertEquals(0, bus.instanceCount());
        }
    }

    @Test
    void twoWritableDisksCannotShareAFileButReadersCan() throws Exception {
        Path file = dir.resolve("shared.img");
        try (MdevBus bus = new MdevBus()) {
            bus.addParent(new SimBlkParent());
            MdevInstance writer = bus.create(CreateRequest.of(SimBlkParent.NAME, SimBlkParent.TYPE)
                    .withAttribute("capacity", "1M").withAttribute("backing_file", file.toString()));
            MdevException e = assertThrows(MdevException.class, () -> bus.create(
                    CreateRequest.of(SimBlkParent.NAME, SimBlkParent.TYPE)
                            .withAttribute("backing_file", file.toString()).withAttribute("read_only", "true")));
            assertEquals(Errno.EBUSY, e.errno(), e.getMessage());
            assertEquals("attrs.backing_file", e.field().orElseThrow());
            bus.remove(writer.uuid());

            MdevInstance reader1 = bus.create(CreateRequest.of(SimBlkParent.NAME, SimBlkParent.TYPE)
                    .withAttribute("backing_file", file.toString()).withAttribute("read_only", "true"));
            MdevInstance reader2 = bus.create(CreateRequest.of(SimBlkParent.NAME, SimBlkParent.TYPE)
                    .withAttribute("backing_file", file.toString()).withAttribute("read_only", "true"));
            assertEquals(2, bus.instanceCount());
            assertEquals(Errno.EBUSY, assertThrows(MdevException.class, () -> bus.create(
                    CreateRequest.of(SimBlkParent.NAME, SimBlkParent.TYPE)
                            .withAttribute("backing_file", file.toString()))).errno());
            bus.remove(reader1.uuid());
            bus.remove(reader2.uuid());
        }
    }

    @Test
    void ramDiskWithDefaultsServesTheDaemonsDefaultInstance() throws Exception {
        try (MdevBus bus = new MdevBus(); Arena arena = Arena.ofConfined()) {
            bus.addParent(new SimBlkParent());
            MdevInstance instance = bus.create(CreateRequest.of(SimBlkParent.NAME, SimBlkParent.TYPE));
            VirtioDevice device = instance.device().unwrap(VirtioDevice.class).orElseThrow();
            try (VirtioBlockDisk disk = VirtioBlockDisk.open(device)) {
                assertEquals((128L << 20) / 512, disk.capacity());
                disk.write(disk.capacity() - 1, arena.allocate(512).fill((byte) 0x42));
                MemorySegment back = arena.allocate(512);
                disk.read(disk.capacity() - 1, back);
                assertArrayEquals(arena.allocate(512).fill((byte) 0x42).toArray(JAVA_BYTE), back.toArray(JAVA_BYTE));
            }
            bus.remove(instance.uuid());
        }
    }

    @Test
    void aPolledDiskServesItsDriverAndHasTheLimitItWasGiven() throws Exception {
        try (MdevBus bus = new MdevBus(); Arena arena = Arena.ofConfined()) {
            bus.addParent(new SimBlkParent());
            MdevInstance instance = bus.create(CreateRequest.of(SimBlkParent.NAME, SimBlkParent.TYPE)
                    .withAttribute(Polling.ATTRIBUTE, "500"));
            SoftwareVirtioDevice device = instance.device().unwrap(SoftwareVirtioDevice.class).orElseThrow();
            assertEquals(Duration.ofNanos(TimeUnit.MICROSECONDS.toNanos(500)), device.pollLimit());
            try (VirtioBlockDisk disk = VirtioBlockDisk.open(device)) {
                MemorySegment block = arena.allocate(512);
                MemorySegment back = arena.allocate(512);
                // Back-to-back requests: after the first few the worker polls and takes them without kicks.
                for (long sector = 0; sector < POLLED_REQUESTS; sector++) {
                    block.fill((byte) sector);
                    disk.write(sector, block);
                    disk.read(sector, back);
                    assertArrayEquals(block.toArray(JAVA_BYTE), back.toArray(JAVA_BYTE));
                }
            }
            bus.remove(instance.uuid());
        }
    }
}

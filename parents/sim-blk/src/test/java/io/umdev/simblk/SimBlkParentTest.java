package io.umdev.simblk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.mdev.Attributes;
import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevType;
import io.umdev.mdev.ParentDevice;
import io.umdev.mdev.ParentEnvironment;
import io.umdev.mdev.ParentPlugins;
import io.umdev.virtio.transport.Polling;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The parent's type, attribute specs and combination rules, and how ServiceLoader finds it. */
class SimBlkParentTest {
    @TempDir
    Path dir;

    private final SimBlkParent parent = new SimBlkParent();

    private static Attributes parse(String... pairs) throws MdevException {
        LinkedHashMap<String, String> given = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            given.put(pairs[i], pairs[i + 1]);
        }
        return SimBlkParent.BLK.parseAttributes(given);
    }

    private void assertRefused(String field, Attributes attributes) {
        MdevException e = assertThrows(MdevException.class, () -> parent.validate(SimBlkParent.BLK, attributes));
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals(field, e.field().orElseThrow(), e.getMessage());
    }

    @Test
    void serviceLoaderFindsTheSimBlkParent() {
        try (ParentPlugins plugins = ParentPlugins.load(getClass().getClassLoader(), List.of(),
                new ParentEnvironment(dir))) {
            ParentDevice found = plugins.parents().stream().filter(p -> p.name().equals("sim-blk")).findFirst()
                    .orElseThrow();
            MdevType type = found.types().getFirst();
            assertEquals("blk", type.name());
            assertEquals(DeviceApi.VIRTIO, type.deviceApi());
        }
    }

    @Test
    void defaultsAreA128MiBRamDiskWithOneQueue() throws Exception {
        Attributes attributes = parse();
        assertEquals(128L << 20, attributes.getLong(SimBlkParent.CAPACITY));
        assertEquals(1, attributes.getLong(SimBlkParent.NUM_QUEUES));
        assertEquals(false, attributes.getBoolean(SimBlkParent.READ_ONLY));
        assertTrue(attributes.get(SimBlkParent.BACKING_FILE, Path.class).isEmpty());
        assertEquals(Duration.ZERO, Polling.limit(attributes), "polling is off unless asked for");
        parent.validate(SimBlkParent.BLK, attributes);
        DiskConfig disk = DiskConfig.of(UUID.fromString("0b4f5c2e-3d8a-4f1e-9a6b-1c2d3e4f5a6b"), attributes);
        assertEquals("0b4f5c2e3d8a4f1e9a6b", disk.serial());
    }

    @Test
    void attributeSpecsRefuseBadValues() {
        assertThrows(MdevException.class, () -> parse(SimBlkParent.CAPACITY, "1000"));
        assertThrows(MdevException.class, () -> parse(SimBlkParent.CAPACITY, "0"));
        assertThrows(MdevException.class, () -> parse(SimBlkParent.NUM_QUEUES, "0"));
        assertThrows(MdevException.class, () -> parse(SimBlkParent.NUM_QUEUES, "17"));
        assertThrows(MdevException.class, () -> parse(SimBlkParent.SERIAL, "123456789012345678901"));
        assertThrows(MdevException.class, () -> parse(SimBlkParent.BACKING_FILE, "relative/disk.img"));
        assertThrows(MdevException.class, () -> parse(Polling.ATTRIBUTE, "-1"));
        assertThrows(MdevException.class, () -> parse(Polling.ATTRIBUTE, Long.toString(Polling.MAX_LIMIT_MICROS + 1)));
    }

    @Test
    void refusesCombinationsThatCouldNeverStart() throws Exception {
        assertRefused("attrs.backing_file", parse(SimBlkParent.BACKING_FILE, dir.toString()));
        assertRefused("attrs.backing_file", parse(SimBlkParent.BACKING_FILE, dir.resolve("absent.img").toString(),
                SimBlkParent.READ_ONLY, "true"));
        assertRefused("attrs.backing_file", parse(SimBlkParent.BACKING_FILE, dir.resolve("no/such/dir.img").toString()));
        assertRefused("attrs.serial", parse(SimBlkParent.SERIAL, "disque-\u00e9t\u00e9"));
        Path existing = Files.write(dir.resolve("disk.img"), new byte[4096]);
        parent.validate(SimBlkParent.BLK, parse(SimBlkParent.BACKING_FILE, existing.toString(),
                SimBlkParent.READ_ONLY, "true"));
        parent.validate(SimBlkParent.BLK, parse(SimBlkParent.BACKING_FILE, dir.resolve("new.img").toString()));
    }
}

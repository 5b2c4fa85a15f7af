package io.umdev.mdev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Parsing and validating attribute values of every kind; errors name the attribute and what it accepts. */
class AttributeSpecTest {
    private static MdevException refused(AttributeSpec spec, String raw, String... mentions) {
        MdevException e = assertThrows(MdevException.class, () -> spec.parse(raw));
        assertEquals(Errno.EINVAL, e.errno());
        assertEquals("attrs." + spec.name(), e.field().orElseThrow());
        assertTrue(e.getMessage().contains("'" + spec.name() + "'"), e.getMessage());
        for (String mention : mentions) {
            assertTrue(e.getMessage().contains(mention), () -> "'" + mention + "' missing from: " + e.getMessage());
        }
        return e;
    }

    @Test
    void integersAreCheckedAgainstTheirRange() throws Exception {
        AttributeSpec mtu = AttributeSpec.integer("mtu", "MTU").withRange(68, 65535).withDefault("1500");
        assertEquals(9000L, mtu.parse("9000"));
        assertEquals(0x1000L, mtu.parse("0x1000"));
        refused(mtu, "70000", "above the maximum 65535", "68..65535");
        refused(mtu, "67", "below the minimum 68");
        refused(mtu, "12abc", "not a whole number");
        refused(mtu, "", "not a whole number");
        refused(mtu, " 1500", "not a whole number");
        refused(mtu, "0xffffffffffffffff", "not a whole number");
        refused(mtu, "99999999999999999999", "not a whole number");
    }

    @Test
    void sizesTakeBinarySuffixesAndSteps() throws Exception {
        AttributeSpec capacity = AttributeSpec.size("capacity", "disk size").withRange(512, 1L << 40)
                .withMultipleOf(512).withDefault("64M");
        assertEquals(64L << 20, capacity.parse("64M"));
        assertEquals(1L << 30, capacity.parse("1G"));
        assertEquals(2L << 30, capacity.parse("2GiB"));
        assertEquals(4096L, capacity.parse("4k"));
        assertEquals(4096L, capacity.parse("4KB"));
        assertEquals(1024L, capacity.parse("1024"));
        assertEquals(1024L, capacity.parse("1024b"));
        refused(capacity, "1000", "not a multiple of 512");
        refused(capacity, "2T", "above the maximum 1T");
        refused(capacity, "256", "below the minimum 512");
        refused(capacity, "1.5G", "not a size", "64M");
        refused(capacity, "12ib", "not a size");
        refused(capacity, "9999999999E", "too large");
        assertEquals("size 512..1T, multiple of 512, default 64M", capacity.summary());
    }

    @Test
    void macAddressesMustBeUnicastAndNonZero() throws Exception {
        AttributeSpec mac = AttributeSpec.mac("mac", "station address");
        assertEquals(MacAddress.parse("52:54:00:12:34:56"), mac.parse("52-54-00-12-34-56"));
        assertEquals("52:54:00:ab:cd:ef", mac.parse("52:54:00:AB:CD:EF").toString());
        refused(mac, "01:00:5e:00:00:01", "multicast");
        refused(mac, "00:00:00:00:00:00", "all zeros");
        refused(mac, "52:54:00:12:34", "not a MAC address", "52:54:00:12:34:56");
        refused(mac, "52:54:00:12:34:5g", "not a MAC address");
    }

    @Test
    void booleansTakeTheUsualWords() throws Exception {
        AttributeSpec flag = AttributeSpec.bool("packed", "packed rings").withDefault("false");
        for (String yes : List.of("true", "YES", "on", "1")) {
            assertEquals(Boolean.TRUE, flag.parse(yes));
        }
        for (String no : List.of("false", "No", "off", "0")) {
            assertEquals(Boolean.FALSE, flag.parse(no));
        }
        refused(flag, "maybe", "true or false");
    }

    @Test
    void pathsMustBeAbsolute() throws Exception {
        AttributeSpec backing = AttributeSpec.path("backing", "backing file");
        assertEquals(Path.of("/var/lib/disk.img"), backing.parse("/var/lib/../lib/disk.img"));
        refused(backing, "disk.img", "relative", "absolute path");
        refused(backing, "", "not a usable path");
        refused(backing, "/a\0b", "not a usable path", "\\x00");
    }

    @Test
    void choicesListWhatTheyAccept() throws Exception {
        AttributeSpec mode = AttributeSpec.choice("mode", "storage", List.of("ram", "file")).withDefault("ram");
        assertEquals("file", mode.parse("file"));
        refused(mode, "disk", "accepted: ram, file");
        refused(mode, "RAM", "accepted: ram, file");
        assertEquals("enum {ram|file}, default ram", mode.summary());
    }

    @Test
    void stringsHaveALengthAndNoControlCharacters() throws Exception {
        AttributeSpec serial = AttributeSpec.string("serial", "serial number").withRange(1, 20);
        assertEquals("abc-123", serial.parse("abc-123"));
        refused(serial, "", "0 characters long", "1 to 20");
        refused(serial, "a".repeat(21), "21 characters long");
        refused(serial, "a\nb", "control character", "\\x0a");
    }

    @Test
    void aParentAuthorsMistakesFailAtDeclaration() {
        assertThrows(IllegalArgumentException.class,
                () -> AttributeSpec.integer("mtu", "MTU").withRange(68, 65535).withDefault("10"));
        assertThrows(IllegalArgumentException.class, () -> AttributeSpec.integer("mtu", "MTU").withDefault("1500")
                .withRange(68, 1000));
        assertThrows(IllegalArgumentException.class, () -> AttributeSpec.mac("mac", "x").withRange(0, 1));
        assertThrows(IllegalArgumentException.class, () -> AttributeSpec.bool("Bad-Name", "x"));
        assertThrows(IllegalArgumentException.class, () -> AttributeSpec.choice("m", "x", List.of()));
        assertThrows(IllegalArgumentException.class, () -> AttributeSpec.string("s", "x").withDefault("a").asRequired());
        assertThrows(IllegalArgumentException.class,
                () -> new MdevType("t", "x", DeviceApi.VIRTIO, 1, List.of(AttributeSpec.bool("a", "x"),
                        AttributeSpec.bool("a", "y"))));
        assertThrows(IllegalArgumentException.class, () -> DeviceApi.of("Virtio"));
    }

    @Test
    void typesReportUnknownAndMissingAttributes() throws Exception {
        MdevType type = new MdevType("blk", "disk", DeviceApi.VIRTIO, 1, List.of(
                AttributeSpec.path("backing", "backing file").asRequired(),
                AttributeSpec.bool("readonly", "read-only").withDefault("no"),
                AttributeSpec.string("serial", "serial")));
        LinkedHashMap<String, String> given = new LinkedHashMap<>();
        given.put("readonly", "yes");

        MdevException missing = assertThrows(MdevException.class, () -> type.parseAttributes(given));
        assertEquals("attrs.backing", missing.field().orElseThrow());
        assertTrue(missing.getMessage().contains("required"), missing.getMessage());

        given.put("backing", "/srv/disk.img");
        given.put("speed", "fast");
        MdevException unknown = assertThrows(MdevException.class, () -> type.parseAttributes(given));
        assertEquals("attrs.speed", unknown.field().orElseThrow());
        assertTrue(unknown.getMessage().contains("it accepts: backing, readonly, serial"), unknown.getMessage());

        given.remove("speed");
        Attributes attributes = type.parseAttributes(given);
        assertEquals(List.of("readonly", "backing"), List.copyOf(attributes.given().keySet()));
        assertEquals(List.of("backing", "readonly"), List.copyOf(attributes.effective().keySet()));
        assertTrue(attributes.getBoolean("readonly"));
        assertTrue(attributes.get("serial", String.class).isEmpty(), "optional without default: no value");
        assertEquals(Path.of("/srv/disk.img"), attributes.get("backing", Path.class).orElseThrow());
        assertTrue(MdevType.of("plain", "x", DeviceApi.VFIO_PCI, 1).parseAttributes(new LinkedHashMap<>()).isEmpty());
    }
}

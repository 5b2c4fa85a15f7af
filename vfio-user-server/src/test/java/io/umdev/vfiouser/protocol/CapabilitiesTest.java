package io.umdev.vfiouser.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.umdev.linux.Errno;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The VERSION capabilities JSON: what QEMU sends, what the spec defaults to, and what a reply may hold. */
class CapabilitiesTest {
    /** QEMU 11.1's VERSION request JSON, byte for byte. */
    private static final String QEMU_REQUEST = "{\"capabilities\":{\"migration\":{\"pgsize\":4096,"
            + "\"max_bitmap_size\":268435456},\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,\"pgsizes\":4096,"
            + "\"max_dma_maps\":65535,\"write_multiple\":true}}";
    /** The size of QEMU's whole VERSION request: 16-byte header, major and minor, the JSON, its NUL. */
    private static final int QEMU_REQUEST_SIZE = 16 + 2 + 2 + QEMU_REQUEST.getBytes(StandardCharsets.UTF_8).length + 1;

    /** Keys in the order a reply keeps them when space is short, most important first. */
    private static final List<String> IMPORTANCE = List.of(Capabilities.KEY_MAX_MSG_FDS, Capabilities.KEY_MAX_DMA_MAPS,
            Capabilities.KEY_WRITE_MULTIPLE, Capabilities.KEY_MAX_DATA_XFER_SIZE, Capabilities.KEY_PGSIZES);

    private static final ObjectMapper JSON = new ObjectMapper();

    private static void assertInvalid(String json) {
        ProtocolException e = assertThrows(ProtocolException.class, () -> Capabilities.parse(json), json);
        assertEquals(Errno.EINVAL, e.errno(), json);
    }

    private static String caps(String body) {
        return "{\"capabilities\":{" + body + "}}";
    }

    private static List<String> keysOf(String json) throws Exception {
        List<String> keys = new ArrayList<>();
        JsonNode capabilities = JSON.readTree(json).get(Capabilities.KEY_CAPABILITIES);
        if (capabilities != null) {
            capabilities.fieldNames().forEachRemaining(keys::add);
        }
        return keys;
    }

    // ---- parse ------------------------------------------------------------------------------------

    @Test
    void parsesQemusRequest() throws Exception {
        Capabilities c = Capabilities.parse(QEMU_REQUEST);
        assertEquals(new Capabilities(16, 1048576, 4096, 65535, true), c);
    }

    @Test
    void nullMeansSpecDefaults() throws Exception {
        Capabilities c = Capabilities.parse(null);
        assertSame(Capabilities.SPEC_DEFAULTS, c);
        assertEquals(1, c.maxMsgFds());
        assertEquals(1 << 20, c.maxDataXferSize());
        assertEquals(4096, c.pgsizes());
        assertEquals(65535, c.maxDmaMaps());
        assertFalse(c.writeMultiple());
    }

    @Test
    void absentKeysTakeSpecDefaults() throws Exception {
        assertEquals(Capabilities.SPEC_DEFAULTS, Capabilities.parse("{}"));
        assertEquals(Capabilities.SPEC_DEFAULTS, Capabilities.parse(caps("")));
        assertEquals(Capabilities.SPEC_DEFAULTS, Capabilities.parse("  {\"capabilities\" : { } }\n"));
        assertEquals(new Capabilities(8, 1 << 20, 4096, 65535, false), Capabilities.parse(caps("\"max_msg_fds\":8")));
        assertEquals(new Capabilities(1, 1 << 20, 4096, 65535, true), Capabilities.parse(caps("\"write_multiple\":true")));
    }

    @Test
    void ignoresUnknownKeys() throws Exception {
        String json = "{\"vendor\":[1,2,3],\"capabilities\":{\"future\":{\"x\":[null]},\"max_msg_fds\":4,"
                + "\"something\":\"else\",\"n\":-1.5,\"b\":false}}";
        assertEquals(new Capabilities(4, 1 << 20, 4096, 65535, false), Capabilities.parse(json));
    }

    @Test
    void acceptsTwinSocketAndMigrationObjects() throws Exception {
        assertEquals(Capabilities.SPEC_DEFAULTS,
                Capabilities.parse(caps("\"twin_socket\":{\"supported\":true},\"migration\":{}")));
    }

    @Test
    void acceptsBoundaryValues() throws Exception {
        assertEquals(new Capabilities(0, 1, 1, 0, false), Capabilities.parse(
                caps("\"max_msg_fds\":0,\"max_data_xfer_size\":1,\"pgsizes\":1,\"max_dma_maps\":0")));
        assertEquals(new Capabilities(Capabilities.MAX_MSG_FDS_LIMIT, Capabilities.MAX_DATA_XFER_LIMIT, Long.MAX_VALUE,
                Capabilities.MAX_DMA_MAPS_LIMIT, false), Capabilities.parse(caps(
                        "\"max_msg_fds\":1024,\"max_data_xfer_size\":1073741824,\"pgsizes\":9223372036854775807,"
                                + "\"max_dma_maps\":2147483648")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"{", "}", "not json", "{\"capabilities\":", "{\"capabilities\":{\"max_msg_fds\":}}",
        "{'capabilities':{}}", "{\"capabilities\":{\"max_msg_fds\":16,}}", "{\"capabilities\":{}}}",
        "{\"capabilities\":{}} trailing", "{}{}", "{\"capabilities\":{}}\0x"})
    void rejectsMalformedJson(String json) {
        assertInvalid(json);
    }

    @ParameterizedTest
    @ValueSource(strings = {"[]", "42", "\"capabilities\"", "null", "true", "[{\"capabilities\":{}}]"})
    void rejectsANonObjectRoot(String json) {
        assertInvalid(json);
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"capabilities\":[]}", "{\"capabilities\":16}", "{\"capabilities\":\"x\"}",
        "{\"capabilities\":null}", "{\"capabilities\":true}"})
    void rejectsCapabilitiesThatAreNotAnObject(String json) {
        assertInvalid(json);
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"max_msg_fds\":\"16\"", "\"max_msg_fds\":true", "\"max_msg_fds\":null",
        "\"max_msg_fds\":{}", "\"max_msg_fds\":[16]", "\"max_data_xfer_size\":\"1048576\"", "\"pgsizes\":[4096]",
        "\"max_dma_maps\":false", "\"write_multiple\":1", "\"write_multiple\":\"true\"", "\"write_multiple\":null",
        "\"migration\":1", "\"migration\":[]", "\"twin_socket\":true", "\"twin_socket\":\"yes\""})
    void rejectsWrongTypes(String body) {
        assertInvalid(caps(body));
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"max_msg_fds\":-1", "\"max_data_xfer_size\":-1048576", "\"pgsizes\":-4096",
        "\"max_dma_maps\":-1", "\"max_msg_fds\":-9223372036854775808"})
    void rejectsNegativeNumbers(String body) {
        assertInvalid(caps(body));
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"max_msg_fds\":16.5", "\"max_msg_fds\":16.0", "\"max_data_xfer_size\":1e6",
        "\"pgsizes\":4096.0001", "\"max_dma_maps\":6.5535E4"})
    void rejectsFractionalNumbers(String body) {
        assertInvalid(caps(body));
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"max_msg_fds\":1025", "\"max_msg_fds\":4294967312", "\"max_data_xfer_size\":0",
        "\"max_data_xfer_size\":1073741825", "\"pgsizes\":0", "\"pgsizes\":9223372036854775808",
        "\"pgsizes\":18446744073709551615", "\"max_dma_maps\":2147483649",
        "\"max_dma_maps\":99999999999999999999999999999"})
    void rejectsOutOfRangeNumbers(String body) {
        assertInvalid(caps(body));
    }

    // ---- toJson -----------------------------------------------------------------------------------

    @Test
    void fullJsonRoundTrips() throws Exception {
        Capabilities c = new Capabilities(16, 64 << 20, 4096 | 2 << 20, 1000, true);
        assertEquals(c, Capabilities.parse(c.toJson()));
        Capabilities noMulti = new Capabilities(3, 8, 4096, 1, false);
        assertEquals(noMulti, Capabilities.parse(noMulti.toJson()));
        assertFalse(noMulti.toJson().contains(Capabilities.KEY_WRITE_MULTIPLE));
    }

    @Test
    void fullJsonIsCompact() {
        String json = new Capabilities(16, 1 << 20, 4096, 65535, true).toJson();
        assertEquals("{\"capabilities\":{\"max_msg_fds\":16,\"max_dma_maps\":65535,\"write_multiple\":true,"
                + "\"max_data_xfer_size\":1048576,\"pgsizes\":4096}}", json);
    }

    @Test
    void omitsWriteMultipleWhenNotProposed() throws Exception {
        Capabilities c = new Capabilities(16, 1 << 20, 4096, 65535, true);
        String json = c.toJson(Integer.MAX_VALUE, false);
        assertFalse(json.contains(Capabilities.KEY_WRITE_MULTIPLE), json);
        assertEquals(new Capabilities(16, 1 << 20, 4096, 65535, false), Capabilities.parse(json));
        assertTrue(c.toJson(Integer.MAX_VALUE, true).contains("\"write_multiple\":true"));
    }

    @Test
    void neverExceedsMaxBytesAndDropsLeastImportantKeysFirst() throws Exception {
        Capabilities c = new Capabilities(16, 2 << 20, 8192, 1000, true);
        int full = c.toJson().getBytes(StandardCharsets.UTF_8).length + 1;
        int previousKeys = -1;
        for (int maxBytes = 0; maxBytes <= full + 4; maxBytes++) {
            String json = c.toJson(maxBytes, true);
            if (json == null) {
                assertTrue(maxBytes < 3, "null although \"{}\" fits in " + maxBytes);
                continue;
            }
            int size = json.getBytes(StandardCharsets.UTF_8).length + 1;
            assertTrue(size <= maxBytes, json + " with its NUL exceeds " + maxBytes);
            List<String> keys = keysOf(json);
            assertEquals(IMPORTANCE.subList(0, keys.size()), keys, "kept keys must be the most important ones");
            assertTrue(keys.size() >= previousKeys, "more room must never keep fewer keys");
            previousKeys = keys.size();
            Capabilities parsed = Capabilities.parse(json);
            // a left-out key reads back as its default
            assertEquals(keys.contains(Capabilities.KEY_MAX_MSG_FDS) ? 16 : 1, parsed.maxMsgFds());
            assertEquals(keys.contains(Capabilities.KEY_MAX_DMA_MAPS) ? 1000 : 65535, parsed.maxDmaMaps());
            assertEquals(keys.contains(Capabilities.KEY_WRITE_MULTIPLE), parsed.writeMultiple());
            assertEquals(keys.contains(Capabilities.KEY_MAX_DATA_XFER_SIZE) ? 2 << 20 : 1 << 20, parsed.maxDataXferSize());
            assertEquals(keys.contains(Capabilities.KEY_PGSIZES) ? 8192 : 4096, parsed.pgsizes());
            if (maxBytes >= full) {
                assertEquals(c.toJson(), json);
            }
        }
        assertEquals(IMPORTANCE.size(), previousKeys);
    }

    @Test
    void dropsKeysOneByOneInImportanceOrder() throws Exception {
        Capabilities c = new Capabilities(2, 4096, 8192, 7, true);
        String full = c.toJson();
        String withoutPgsizes = c.toJson(full.length(), true); // one byte short of full + NUL
        assertEquals(IMPORTANCE.subList(0, 4), keysOf(withoutPgsizes));
        assertEquals(new Capabilities(2, 4096, 4096, 7, true), Capabilities.parse(withoutPgsizes));
        String withoutXfer = c.toJson(withoutPgsizes.length(), true);
        assertEquals(IMPORTANCE.subList(0, 3), keysOf(withoutXfer));
        assertEquals(new Capabilities(2, 1 << 20, 4096, 7, true), Capabilities.parse(withoutXfer));
        String withoutMulti = c.toJson(withoutXfer.length(), true);
        assertEquals(IMPORTANCE.subList(0, 2), keysOf(withoutMulti));
        String withoutMaps = c.toJson(withoutMulti.length(), true);
        assertEquals(IMPORTANCE.subList(0, 1), keysOf(withoutMaps));
        String none = c.toJson(withoutMaps.length(), true);
        assertEquals("{\"capabilities\":{}}", none);
        assertEquals(Capabilities.SPEC_DEFAULTS, Capabilities.parse(none));
        assertEquals("{}", c.toJson(none.length(), true));
        assertEquals("{}", c.toJson(3, true));
    }

    @Test
    void returnsNullWhenNothingFits() {
        Capabilities c = new Capabilities(16, 1 << 20, 4096, 65535, true);
        for (long maxBytes : new long[] {Long.MIN_VALUE, -1, 0, 1, 2}) {
            assertNull(c.toJson(maxBytes, true), "maxBytes " + maxBytes);
            assertNull(c.toJson(maxBytes, false), "maxBytes " + maxBytes);
        }
        assertNotNull(c.toJson(3, false));
    }

    @Test
    void qemuStyleReplyFitsInTheSizeOfQemusRequest() throws Exception {
        // What a server with default options answers QEMU: the room is QEMU's request less header and version.
        Capabilities server = new Capabilities(16, 1 << 20, 4096, 65535, true);
        Capabilities client = Capabilities.parse(QEMU_REQUEST);
        long room = QEMU_REQUEST_SIZE - 16 - 4;
        String reply = server.toJson(room, client.writeMultiple());
        assertEquals(server.toJson(), reply, "nothing may be dropped from the reply to QEMU");
        int replySize = 16 + 4 + reply.getBytes(StandardCharsets.UTF_8).length + 1;
        assertTrue(replySize <= QEMU_REQUEST_SIZE, replySize + " > " + QEMU_REQUEST_SIZE);
        assertEquals(server, Capabilities.parse(reply));
    }
}

package io.umdev.daemon.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SequencedMap;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Strict reading of JSON objects: every mistake names its field. */
class JsonFieldsTest {
    private static JsonFields fields(String json) throws JsonFieldException {
        return JsonFields.of(Json.parse(json), "the test object");
    }

    private static JsonFieldException refused(String field, String json, Reader reader) {
        JsonFieldException e = assertThrows(JsonFieldException.class, () -> reader.read(fields(json)));
        assertEquals(field, e.field(), e::getMessage);
        return e;
    }

    @FunctionalInterface
    private interface Reader {
        void read(JsonFields fields) throws JsonFieldException;
    }

    @Test
    void readsTheFieldsItIsAskedFor() throws Exception {
        JsonFields f = fields("{\"uuid\":\"0B4F5C2E-3D8A-4F1E-9A6B-1C2D3E4F5A6B\",\"live\":true,\"names\":[\"a\",\"b\"],"
                + "\"attrs\":[{\"mtu\":9000},{\"mac\":\"52:54:00:12:34:56\"},{\"on\":false}]}");
        assertEquals(UUID.fromString("0b4f5c2e-3d8a-4f1e-9a6b-1c2d3e4f5a6b"), f.requireUuid("uuid"));
        assertEquals(true, f.bool("live").orElseThrow());
        assertEquals(List.of("a", "b"), f.strings("names").orElseThrow());
        SequencedMap<String, String> attrs = f.attrs("attrs").orElseThrow();
        assertEquals(List.of("mtu", "mac", "on"), List.copyOf(attrs.keySet()));
        assertEquals("9000", attrs.get("mtu"));
        assertEquals("false", attrs.get("on"));
        assertTrue(f.string("absent").isEmpty());
        f.finish();
    }

    @Test
    void refusesWhatItWasNotAskedFor() {
        JsonFieldException e = refused("colour", "{\"op\":\"x\",\"colour\":\"red\"}", f -> {
            f.requireString("op");
            f.finish();
        });
        assertTrue(e.getMessage().contains("unexpected field 'colour'; accepted here: op"), e.getMessage());
    }

    @Test
    void refusesWrongTypesAndMissingFields() {
        assertTrue(refused("uuid", "{\"uuid\":5}", f -> f.uuid("uuid")).getMessage().contains("must be a string, not a number"));
        refused("live", "{\"live\":\"yes\"}", f -> f.bool("live"));
        refused("op", "{}", f -> f.requireString("op"));
        refused("names[1]", "{\"names\":[\"a\",2]}", f -> f.strings("names"));
        refused("parent", "{\"parent\":null}", f -> f.string("parent"));
    }

    @Test
    void refusesUuidsThatAreNotCanonical() {
        for (String bad : List.of("1-1-1-1-1", "0b4f5c2e3d8a4f1e9a6b1c2d3e4f5a6b", "{0b4f5c2e-3d8a-4f1e-9a6b-1c2d3e4f5a6b}",
                "0b4f5c2e-3d8a-4f1e-9a6b-1c2d3e4f5a6g", "")) {
            JsonFieldException e = refused("uuid", "{\"uuid\":\"" + bad + "\"}", f -> f.uuid("uuid"));
            assertTrue(e.getMessage().contains("8-4-4-4-12"), e.getMessage());
        }
    }

    @Test
    void refusesMalformedAttributeLists() {
        refused("attrs", "{\"attrs\":{\"mtu\":\"9000\"}}", f -> f.attrs("attrs"));
        refused("attrs[0]", "{\"attrs\":[{\"mtu\":\"9000\",\"mac\":\"x\"}]}", f -> f.attrs("attrs"));
        refused("attrs[1]", "{\"attrs\":[{\"mtu\":\"9000\"},\"mac\"]}", f -> f.attrs("attrs"));
        refused("attrs.mtu", "{\"attrs\":[{\"mtu\":1.5}]}", f -> f.attrs("attrs"));
        refused("attrs.mtu", "{\"attrs\":[{\"mtu\":[1]}]}", f -> f.attrs("attrs"));
        JsonFieldException twice = refused("attrs.mtu", "{\"attrs\":[{\"mtu\":\"1\"},{\"mtu\":\"2\"}]}", f -> f.attrs("attrs"));
        assertTrue(twice.getMessage().contains("given twice"), twice.getMessage());
    }

    @Test
    void refusesDocumentsThatAreNotOneJsonObject() {
        for (String bad : List.of("", "nope", "{\"a\":1} {\"b\":2}", "{\"a\":1,\"a\":2}", "{\"a\":")) {
            JsonFieldException e = assertThrows(JsonFieldException.class, () -> Json.parse(bad), bad);
            assertEquals(null, e.field());
        }
        assertThrows(JsonFieldException.class, () -> JsonFields.of(Json.parse("[1]"), "a request"));
    }
}

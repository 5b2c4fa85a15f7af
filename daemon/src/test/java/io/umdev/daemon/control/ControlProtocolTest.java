package io.umdev.daemon.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.umdev.daemon.EventLog;
import io.umdev.daemon.LoopPlugin;
import io.umdev.daemon.definition.DefinitionStore;
import io.umdev.daemon.json.Json;
import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.MdevBus;
import io.umdev.mdev.MdevDriver;
import io.umdev.mdev.MdevInstance;
import io.umdev.mdev.ParentEnvironment;
import io.umdev.mdev.ParentPlugins;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control protocol over a real bus, the loop plugin and a definitions directory, in one JVM: every
 * op, every kind of bad input, and the rule that a refused request changes nothing.
 */
class ControlProtocolTest {
    private static final String U1 = "0b4f5c2e-3d8a-4f1e-9a6b-1c2d3e4f5a6b";
    private static final String U2 = "7e1d2c3b-4a59-4687-b8c9-d0e1f2a3b4c5";

    @TempDir
    Path dir;

    private MdevBus bus;
    private ParentPlugins plugins;
    private DefinitionStore store;
    private ControlProtocol protocol;

    @BeforeEach
    void setUp() throws Exception {
        LoopPlugin.installInto(dir.resolve("plugins"));
        plugins = ParentPlugins.load(getClass().getClassLoader(), List.of(dir.resolve("plugins")),
                new ParentEnvironment(dir.resolve("parents")));
        bus = new MdevBus();
        // The class path also holds the sim-blk and sim-net parents (the daemon's defaults): take the plugin's.
        bus.addParent(plugins.parents().stream().filter(p -> p.name().equals("loop")).findFirst().orElseThrow());
        store = new DefinitionStore(dir.resolve("definitions"));
        store.create();
        EventLog events = new EventLog();
        bus.subscribe(events);
        protocol = new ControlProtocol(new DeviceControl(bus, store, events));
    }

    @AfterEach
    void tearDown() {
        bus.close();
        plugins.close();
    }

    private JsonNode call(String request) throws Exception {
        return Json.parse(protocol.handle(request));
    }

    private JsonNode ok(String request) throws Exception {
        JsonNode reply = call(request);
        assertTrue(reply.path("ok").asBoolean(), () -> request + " -> " + reply);
        return reply.path("result");
    }

    private JsonNode error(String request, String code, String field) throws Exception {
        JsonNode reply = call(request);
        assertFalse(reply.path("ok").asBoolean(), () -> request + " -> " + reply);
        JsonNode error = reply.path("error");
        assertEquals(code, error.path("code").asText(), () -> request + " -> " + reply);
        assertEquals(field, error.path("field").isMissingNode() ? null : error.path("field").asText(),
                () -> request + " -> " + reply);
        assertFalse(error.path("message").asText().isBlank());
        return error;
    }

    private List<String> definitionFiles() throws IOException {
        try (Stream<Path> files = Files.list(store.directory())) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private List<String> running() {
        return bus.instances().stream().map(i -> i.uuid().toString()).toList();
    }

    @Test
    void malformedRequestsAreRefusedNamingTheField() throws Exception {
        error("not json", "bad-request", null);
        error("[\"op\"]", "bad-request", null);
        error("{}", "bad-request", "op");
        error("{\"op\":\"fly\"}", "bad-request", "op");
        error("{\"op\":7}", "bad-request", "op");
        error("{\"op\":\"list\",\"colour\":\"red\"}", "bad-request", "colour");
        error("{\"op\":\"list\",\"defined\":\"yes\"}", "bad-request", "defined");
        error("{\"op\":\"stop\"}", "bad-request", "uuid");
        error("{\"op\":\"stop\",\"uuid\":\"1-2-3-4-5\"}", "bad-request", "uuid");
        error("{\"op\":\"start\",\"parent\":5,\"type\":\"net\"}", "bad-request", "parent");
        error("{\"op\":\"start\",\"parent\":\"loop\",\"type\":\"net\",\"attrs\":{\"mtu\":\"1\"}}", "bad-request", "attrs");
        error("{\"op\":\"define\",\"parent\":\"loop\",\"type\":\"net\",\"start\":\"sometimes\"}", "bad-request", "start");
        error("{\"op\":\"modify\",\"uuid\":\"" + U1 + "\",\"unset\":\"mtu\"}", "bad-request", "unset");
        JsonNode hint = error("{\"op\":\"fly\"}", "bad-request", "op");
        assertTrue(hint.path("hint").asText().contains("one JSON object per line"), hint.toString());
        assertEquals(List.of(), definitionFiles());
        assertEquals(List.of(), running());
    }

    @Test
    void badValuesAreRefusedNamingTheFieldAndNothingChanges() throws Exception {
        ok("{\"op\":\"start\",\"uuid\":\"" + U1 + "\",\"parent\":\"loop\",\"type\":\"blk\"}");
        ok("{\"op\":\"start\",\"parent\":\"loop\",\"type\":\"blk\"}");
        List<String> before = running();

        JsonNode parent = error("{\"op\":\"start\",\"parent\":\"nope\",\"type\":\"net\"}", "not-found", "parent");
        assertTrue(parent.path("message").asText().contains("loop"), parent.toString());
        error("{\"op\":\"start\",\"parent\":\"loop\",\"type\":\"nope\"}", "not-found", "type");
        error("{\"op\":\"start\",\"parent\":\"loop\",\"type\":\"net\",\"attrs\":[{\"colour\":\"red\"}]}", "invalid",
                "attrs.colour");
        JsonNode range = error("{\"op\":\"start\",\"parent\":\"loop\",\"type\":\"net\",\"attrs\":[{\"mtu\":\"70000\"}]}",
                "invalid", "attrs.mtu");
        assertEquals("EINVAL", range.path("errno").asText());
        assertTrue(range.path("message").asText().contains("65535"), range.toString());
        assertTrue(range.path("hint").asText().contains("umdevctl types -p loop"), range.toString());
        error("{\"op\":\"start\",\"parent\":\"loop\",\"type\":\"net\",\"attrs\":[{\"mac\":\"01:00:5e:00:00:01\"}]}",
                "invalid", "attrs.mac");
        error("{\"op\":\"start\",\"parent\":\"loop\",\"type\":\"net\",\"driver\":\"bad name\"}", "invalid", "driver");
        error("{\"op\":\"start\",\"uuid\":\"" + U1 + "\",\"parent\":\"loop\",\"type\":\"net\"}", "exists", "uuid");
        JsonNode full = error("{\"op\":\"start\",\"parent\":\"loop\",\"type\":\"blk\"}", "no-space", "type");
        assertTrue(full.path("hint").asText().contains("umdevctl list -p loop"), full.toString());
        JsonNode refusedByParent = error("{\"op\":\"start\",\"parent\":\"loop\",\"type\":\"net\",\"uuid\":\"" + U2
                + "\",\"attrs\":[{\"max_vqp\":\"9\"}]}", "invalid", "attrs.max_vqp");
        assertNotNull(refusedByParent);
        error("{\"op\":\"start\",\"parent\":\"loop\"}", "invalid", "type");

        assertEquals(before, running(), "no refused start created anything");
        assertEquals(List.of(), definitionFiles());
    }

    @Test
    void aCombinationTheParentRefusesIsNeitherDefinedNorStarted() throws Exception {
        String fileWithoutBacking = "\"parent\":\"loop\",\"type\":\"blk\",\"attrs\":[{\"mode\":\"file\"}]";
        JsonNode define = error("{\"op\":\"define\"," + fileWithoutBacking + "}", "invalid", "attrs.backing");
        assertTrue(define.path("message").asText().contains("backing file"), define.toString());
        error("{\"op\":\"start\"," + fileWithoutBacking + "}", "invalid", "attrs.backing");

        assertEquals(List.of(), definitionFiles());
        assertEquals(List.of(), running());
        ok("{\"op\":\"start\",\"parent\":\"loop\",\"type\":\"blk\",\"attrs\":[{\"mode\":\"file\"},"
                + "{\"backing\":\"/srv/disk.img\"}]}");
    }

    @Test
    void defineStartModifyStopUndefine() throws Exception {
        JsonNode defined = ok("{\"op\":\"define\",\"uuid\":\"" + U1 + "\",\"parent\":\"loop\",\"type\":\"net\","
                + "\"start\":\"auto\",\"attrs\":[{\"mtu\":\"9000\"},{\"mac\":\"52:54:00:00:00:01\"}]}");
        assertEquals(U1, defined.path("uuid").asText());
        assertFalse(defined.path("running").asBoolean());
        assertEquals(List.of(U1 + ".json"), definitionFiles());
        error("{\"op\":\"define\",\"uuid\":\"" + U1 + "\",\"parent\":\"loop\",\"type\":\"net\"}", "exists", "uuid");

        JsonNode started = ok("{\"op\":\"start\",\"uuid\":\"" + U1 + "\"}");
        assertEquals("unbound", started.path("state").asText());
        assertEquals("auto", started.path("start").asText());
        assertEquals("9000", started.path("effectiveAttrs").path("mtu").asText());
        assertEquals("1", started.path("effectiveAttrs").path("max_vqp").asText(), "defaults are shown");
        error("{\"op\":\"start\",\"uuid\":\"" + U1 + "\"}", "exists", "uuid");
        error("{\"op\":\"start\",\"uuid\":\"" + U1 + "\",\"attrs\":[{\"mtu\":\"1500\"}]}", "invalid", "attrs");

        // The definition only, by default.
        JsonNode modified = ok("{\"op\":\"modify\",\"uuid\":\"" + U1 + "\",\"set\":[{\"mtu\":\"4000\"}],\"unset\":[\"mac\"]}");
        assertEquals("[{\"mtu\":\"4000\"}]", Json.line(modified.path("definition").path("attrs")));
        assertEquals("9000", modified.path("instance").path("effectiveAttrs").path("mtu").asText());
        // The running instance, when the parent can.
        ok("{\"op\":\"modify\",\"uuid\":\"" + U1 + "\",\"set\":[{\"mtu\":\"4000\"}],\"live\":true}");
        assertEquals(4000L, bus.instance(UUID.fromString(U1)).orElseThrow().attributes().getLong("mtu"));
        JsonNode refused = error("{\"op\":\"modify\",\"uuid\":\"" + U1 + "\",\"set\":[{\"max_vqp\":\"2\"}],\"live\":true,"
                + "\"defined\":true}", "refused", "attrs.max_vqp");
        assertEquals("EOPNOTSUPP", refused.path("errno").asText());
        assertEquals("1", store.find(UUID.fromString(U1)).orElseThrow().attrs().getOrDefault("max_vqp", "1"),
                "a refused live change leaves the definition alone too");
        error("{\"op\":\"modify\",\"uuid\":\"" + U1 + "\",\"unset\":[\"colour\"]}", "invalid", "attrs.colour");
        error("{\"op\":\"modify\",\"uuid\":\"" + U1 + "\",\"set\":[{\"mtu\":\"1\"}]}", "invalid", "attrs.mtu");
        error("{\"op\":\"modify\",\"uuid\":\"" + U1 + "\"}", "invalid", null);
        error("{\"op\":\"modify\",\"uuid\":\"" + U1 + "\",\"start\":\"manual\",\"live\":true}", "invalid", "start");
        ok("{\"op\":\"modify\",\"uuid\":\"" + U1 + "\",\"start\":\"manual\"}");
        assertEquals("manual", store.find(UUID.fromString(U1)).orElseThrow().start().label());

        JsonNode shown = ok("{\"op\":\"show\",\"uuid\":\"" + U1 + "\"}");
        assertTrue(shown.path("running").asBoolean() && shown.path("defined").asBoolean());
        assertEquals(0, shown.path("statistics").path("packets").asInt());

        ok("{\"op\":\"stop\",\"uuid\":\"" + U1 + "\"}");
        error("{\"op\":\"stop\",\"uuid\":\"" + U1 + "\"}", "not-found", "uuid");
        assertEquals(List.of(U1 + ".json"), definitionFiles(), "stop keeps the definition");
        ok("{\"op\":\"undefine\",\"uuid\":\"" + U1 + "\"}");
        error("{\"op\":\"undefine\",\"uuid\":\"" + U1 + "\"}", "not-found", "uuid");
        error("{\"op\":\"show\",\"uuid\":\"" + U1 + "\"}", "not-found", "uuid");
        assertEquals(List.of(), definitionFiles());
    }

    @Test
    void aRunningInstanceCanBeDefinedAsItRuns() throws Exception {
        ok("{\"op\":\"start\",\"uuid\":\"" + U2 + "\",\"parent\":\"loop\",\"type\":\"net\",\"attrs\":[{\"mtu\":\"2000\"}]}");
        error("{\"op\":\"define\",\"uuid\":\"" + U2 + "\",\"parent\":\"loop\",\"type\":\"blk\"}", "invalid", "uuid");
        error("{\"op\":\"define\",\"uuid\":\"" + U1 + "\"}", "invalid", "parent");

        JsonNode defined = ok("{\"op\":\"define\",\"uuid\":\"" + U2 + "\",\"start\":\"auto\"}");

        assertEquals("[{\"mtu\":\"2000\"}]", Json.line(defined.path("attrs")));
        assertTrue(defined.path("running").asBoolean());
        JsonNode listed = ok("{\"op\":\"list\"}");
        assertEquals("auto", listed.path(0).path("start").asText());
        error("{\"op\":\"start\",\"uuid\":\"" + U2 + "\",\"parent\":\"loop\",\"type\":\"net\"}", "exists", "uuid");
    }

    @Test
    void typesShowAvailabilityAndAttributes() throws Exception {
        ok("{\"op\":\"start\",\"parent\":\"loop\",\"type\":\"blk\"}");
        JsonNode types = ok("{\"op\":\"types\"}");
        JsonNode blk = types.path(0).path("types").path(1);
        assertEquals("loop", types.path(0).path("parent").asText());
        assertEquals("blk", blk.path("name").asText());
        assertEquals("virtio", blk.path("deviceApi").asText());
        assertEquals(1, blk.path("available").asInt());
        assertEquals(2, blk.path("maxInstances").asInt());
        JsonNode capacity = blk.path("attributes").path(0);
        assertEquals("size", capacity.path("kind").asText());
        assertEquals("64M", capacity.path("default").asText());
        assertEquals(512, capacity.path("multipleOf").asInt());
        assertEquals("[\"ram\",\"file\"]", Json.line(blk.path("attributes").path(1).path("choices")));
        error("{\"op\":\"types\",\"parent\":\"nope\"}", "not-found", "parent");
    }

    @Test
    void bindingGoesThroughTheBus() throws Exception {
        ok("{\"op\":\"start\",\"uuid\":\"" + U1 + "\",\"parent\":\"loop\",\"type\":\"net\"}");
        error("{\"op\":\"bind\",\"uuid\":\"" + U1 + "\"}", "refused", "driver");
        bus.addDriver(new Recorder("first"));
        bus.addDriver(new Recorder("second"));
        assertEquals("first", ok("{\"op\":\"list\"}").path(0).path("driver").asText(), "a new driver binds waiting instances");

        error("{\"op\":\"bind\",\"uuid\":\"" + U1 + "\",\"driver\":\"second\"}", "busy", "uuid");
        assertEquals("unbound", ok("{\"op\":\"unbind\",\"uuid\":\"" + U1 + "\"}").path("state").asText());
        error("{\"op\":\"unbind\",\"uuid\":\"" + U1 + "\"}", "invalid", "uuid");
        assertEquals("second", ok("{\"op\":\"bind\",\"uuid\":\"" + U1 + "\",\"driver\":\"second\"}").path("driver").asText());
        error("{\"op\":\"bind\",\"uuid\":\"" + U2 + "\"}", "not-found", "uuid");

        JsonNode modified = ok("{\"op\":\"modify\",\"uuid\":\"" + U1 + "\",\"driver\":\"first\",\"live\":true}");
        assertEquals("first", modified.path("instance").path("driver").asText(), "a live override change rebinds");
        assertEquals("first", modified.path("instance").path("driverOverride").asText());
        assertEquals("first", ok("{\"op\":\"rebind\",\"uuid\":\"" + U1 + "\"}").path("driver").asText());
        JsonNode drivers = ok("{\"op\":\"drivers\"}");
        assertEquals(1, drivers.path(0).path("bound").asInt());
        JsonNode stats = ok("{\"op\":\"stats\"}");
        assertEquals(1, stats.path("bound").asInt());
        assertTrue(stats.path("events").path("bound").asInt() >= 3);
        assertEquals("bound", ok("{\"op\":\"stats\",\"uuid\":\"" + U1 + "\"}").path("state").asText());
    }

    /** A driver of the virtio API that takes everything. */
    private record Recorder(String name) implements MdevDriver {
        @Override
        public Set<DeviceApi> deviceApis() {
            return Set.of(DeviceApi.VIRTIO);
        }

        @Override
        public void probe(MdevInstance instance) {
        }

        @Override
        public void remove(MdevInstance instance) {
        }
    }
}

package io.umdev.daemon.definition;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.daemon.json.Json;
import io.umdev.daemon.json.JsonFieldException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Definitions on disk: the format, crash-safe replacement, and files that are not right. */
class DefinitionStoreTest {
    private static final UUID U1 = UUID.fromString("0b4f5c2e-3d8a-4f1e-9a6b-1c2d3e4f5a6b");
    private static final UUID U2 = UUID.fromString("7e1d2c3b-4a59-4687-b8c9-d0e1f2a3b4c5");

    @TempDir
    Path dir;

    private DefinitionStore store;

    @BeforeEach
    void setUp() throws IOException {
        store = new DefinitionStore(dir.resolve("definitions"));
        store.create();
    }

    private static Definition net(UUID uuid, String mtu) {
        LinkedHashMap<String, String> attrs = new LinkedHashMap<>();
        attrs.put("mtu", mtu);
        attrs.put("mac", "52:54:00:12:34:56");
        return new Definition(uuid, "loop", "net", StartPolicy.AUTO, attrs, Optional.of("vhost-mdev"));
    }

    private List<String> files() throws IOException {
        try (Stream<Path> list = Files.list(store.directory())) {
            return list.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void writesOneReadablePrivateFilePerUuidInTheDocumentedFormat() throws Exception {
        store.write(net(U1, "9000"));

        assertEquals(List.of(U1 + ".json"), files());
        Path file = store.fileOf(U1);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals(Json.parse("""
                {"uuid": "0b4f5c2e-3d8a-4f1e-9a6b-1c2d3e4f5a6b", "parent": "loop", "type": "net", "start": "auto",
                 "attrs": [{"mtu": "9000"}, {"mac": "52:54:00:12:34:56"}], "driver": "vhost-mdev"}"""),
                Json.parse(Files.readString(file)));
        assertEquals(net(U1, "9000"), store.find(U1).orElseThrow());
        assertEquals(List.of("mtu", "mac"), List.copyOf(store.find(U1).orElseThrow().attrs().keySet()));
    }

    @Test
    void replacingADefinitionLeavesExactlyTheNewOne() throws Exception {
        store.write(net(U1, "9000"));
        store.write(net(U1, "1500").withStart(StartPolicy.MANUAL).withDriver(Optional.empty()));

        assertEquals(List.of(U1 + ".json"), files(), "no temporary file is left behind");
        Definition read = store.find(U1).orElseThrow();
        assertEquals("1500", read.attrs().get("mtu"));
        assertEquals(StartPolicy.MANUAL, read.start());
        assertTrue(read.driver().isEmpty());
        assertFalse(Files.readString(store.fileOf(U1)).contains("driver"));
    }

    @Test
    void deleteRemovesTheFileAndReportsWhetherThereWasOne() throws Exception {
        store.write(net(U1, "9000"));
        assertTrue(store.delete(U1));
        assertFalse(store.delete(U1));
        assertTrue(store.find(U1).isEmpty());
        assertEquals(List.of(), files());
    }

    @Test
    void loadAllSkipsFilesThatAreNotValidDefinitionsAndLeavesThemAlone() throws Exception {
        store.write(net(U2, "9000"));
        store.write(net(U1, "1500"));
        Files.writeString(store.directory().resolve("broken.json"), "{\"uuid\": ");
        Files.writeString(store.directory().resolve(UUID.randomUUID() + ".json"), Json.line(net(U1, "1").toJson()));
        Files.writeString(store.directory().resolve("extra.json"), "{\"uuid\":\"" + U2 + "\",\"parent\":\"p\","
                + "\"type\":\"t\",\"start\":\"auto\",\"attrs\":[],\"colour\":\"red\"}");
        Files.writeString(store.directory().resolve("notes.txt"), "not a definition");

        assertEquals(List.of(U1, U2), store.loadAll().stream().map(Definition::uuid).toList(), "ordered by UUID");
        assertEquals(6, files().size(), "bad files are left for a human to look at");
    }

    @Test
    void anInterruptedWritesLeftoverIsIgnoredThenRemoved() throws Exception {
        store.write(net(U1, "9000"));
        Path leftover = Files.writeString(store.directory().resolve("." + U1 + ".123.tmp"), "{\"uuid\": \"half");

        assertEquals(List.of(U1), store.loadAll().stream().map(Definition::uuid).toList());
        store.removeLeftovers();
        assertFalse(Files.exists(leftover));
        assertEquals("9000", store.find(U1).orElseThrow().attrs().get("mtu"), "the last complete write is intact");
    }

    @Test
    void findReportsAnInvalidFileInsteadOfHidingIt() throws Exception {
        Files.writeString(store.fileOf(U1), "{\"uuid\":\"" + U1 + "\"}");
        IOException e = assertThrows(IOException.class, () -> store.find(U1));
        assertTrue(e.getMessage().contains("'parent' is missing"), e.getMessage());
    }

    @Test
    void theStoredFormIsStrict() {
        JsonFieldException start = assertThrows(JsonFieldException.class, () -> Definition.fromJson(Json.parse(
                "{\"uuid\":\"" + U1 + "\",\"parent\":\"p\",\"type\":\"t\",\"start\":\"sometimes\",\"attrs\":[]}")));
        assertEquals("start", start.field());
        JsonFieldException attrs = assertThrows(JsonFieldException.class, () -> Definition.fromJson(Json.parse(
                "{\"uuid\":\"" + U1 + "\",\"parent\":\"p\",\"type\":\"t\",\"start\":\"auto\"}")));
        assertEquals("attrs", attrs.field());
    }

    @Test
    void aMissingDirectoryHoldsNoDefinitions() throws Exception {
        assertEquals(List.of(), new DefinitionStore(dir.resolve("none")).loadAll());
        new DefinitionStore(dir.resolve("none")).removeLeftovers();
    }
}

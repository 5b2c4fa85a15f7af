package io.umdev.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import io.umdev.daemon.json.Json;
import io.umdev.daemon.json.JsonFieldException;
import io.umdev.daemon.json.JsonFields;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.Set;
import java.util.UUID;

/**
 * The instances the daemon creates at every start besides the auto-start definitions: transient ones,
 * recreated each time, never written as definitions. The embedded default
 * ({@code io/umdev/daemon/default-config.json}) asks for a sim-blk and a sim-net instance, so that
 * {@code bin/umdevd} serves devices with no configuration at all; an entry whose parent is not installed
 * is skipped with a log line. {@code --config FILE} replaces the default:
 *
 * <pre>{@code
 * { "instances": [
 *     { "label": "blk0", "uuid": "b1c00000-0000-4000-8000-000000000000",
 *       "parent": "sim-blk", "type": "blk", "attrs": [ { "capacity": "64M" } ] } ] }
 * }</pre>
 *
 * Each entry takes {@code uuid}, {@code parent}, {@code type} (required), {@code attrs} and
 * {@code driver} (optional), and a {@code label} for log lines and socket names (the virtio-pci driver
 * serves the instance on {@code RUN-DIR/<label>.sock}). In attribute values {@value #STATE_DIR} stands
 * for the daemon's state directory (the default's {@code blk0} disk is {@code ${state}/blk0.img}). A
 * definition with the same UUID wins over an entry.
 *
 * @param source where it came from, for log lines
 */
public record DaemonConfiguration(String source, List<Entry> instances) {
    public static final String EMBEDDED = "io/umdev/daemon/default-config.json";
    /** Stands for the state directory in attribute values. */
    public static final String STATE_DIR = "${state}";

    /** One instance to create at start. */
    public record Entry(String label, UUID uuid, String parent, String type, SequencedMap<String, String> attrs,
            Optional<String> driver) {
        /** How log lines name it: {@code blk0 (b1c0...)} or just the UUID. */
        public String describe() {
            return label.isEmpty() ? uuid.toString() : label + " (" + uuid + ")";
        }

        /** The attributes with {@value #STATE_DIR} replaced by {@code stateDir}. */
        public SequencedMap<String, String> attrs(Path stateDir) {
            SequencedMap<String, String> resolved = new LinkedHashMap<>();
            attrs.forEach((k, v) -> resolved.put(k, v.replace(STATE_DIR, stateDir.toString())));
            return resolved;
        }
    }

    public DaemonConfiguration {
        instances = List.copyOf(instances);
    }

    /** The label the configuration gives instance {@code uuid}, if any. */
    public Optional<String> label(UUID uuid) {
        return instances.stream().filter(e -> e.uuid().equals(uuid) && !e.label().isEmpty()).map(Entry::label)
                .findFirst();
    }

    public static DaemonConfiguration embedded() throws IOException, JsonFieldException {
        try (InputStream in = DaemonConfiguration.class.getClassLoader().getResourceAsStream(EMBEDDED)) {
            if (in == null) {
                throw new IOException("the embedded configuration " + EMBEDDED + " is missing from the build");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), "the embedded default configuration");
        }
    }

    public static DaemonConfiguration load(Path file) throws IOException, JsonFieldException {
        return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString());
    }

    static DaemonConfiguration parse(String text, String source) throws JsonFieldException {
        JsonNode root = Json.parse(text);
        JsonFields fields = JsonFields.of(root, "the configuration");
        List<JsonNode> items = fields.array("instances").orElse(List.of());
        fields.finish();
        List<Entry> entries = new ArrayList<>();
        Set<UUID> seen = new HashSet<>();
        for (int i = 0; i < items.size(); i++) {
            String prefix = "instances[" + i + "].";
            JsonFields item = JsonFields.of(items.get(i), "instances[" + i + "]", prefix);
            String label = item.string("label").orElse("");
            UUID uuid = item.requireUuid("uuid");
            String parent = item.requireString("parent");
            String type = item.requireString("type");
            SequencedMap<String, String> attrs = item.attrs("attrs").orElse(new LinkedHashMap<>());
            Optional<String> driver = item.string("driver");
            item.finish();
            if (!seen.add(uuid)) {
                throw new JsonFieldException(prefix + "uuid", "UUID " + uuid + " appears twice in the configuration");
            }
            entries.add(new Entry(label, uuid, parent, type, attrs, driver));
        }
        return new DaemonConfiguration(source, entries);
    }
}

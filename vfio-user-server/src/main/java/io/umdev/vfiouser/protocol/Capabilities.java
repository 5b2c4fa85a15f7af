package io.umdev.vfiouser.protocol;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;

/**
 * The capabilities one side announces in VERSION. Each is a limit on what that side can receive:
 * file descriptors per message, bytes per data transfer, DMA page sizes, DMA map count, and whether
 * REGION_WRITE_MULTI is understood. Absent keys take the defaults of the specification.
 */
public record Capabilities(int maxMsgFds, long maxDataXferSize, long pgsizes, long maxDmaMaps, boolean writeMultiple) {
    public static final String KEY_CAPABILITIES = "capabilities";
    public static final String KEY_MAX_MSG_FDS = "max_msg_fds";
    public static final String KEY_MAX_DATA_XFER_SIZE = "max_data_xfer_size";
    public static final String KEY_PGSIZES = "pgsizes";
    public static final String KEY_MAX_DMA_MAPS = "max_dma_maps";
    public static final String KEY_WRITE_MULTIPLE = "write_multiple";
    public static final String KEY_TWIN_SOCKET = "twin_socket";
    /** QEMU still sends a legacy migration object; it is accepted and ignored. */
    public static final String KEY_MIGRATION = "migration";

    /** What a peer that announces nothing is assumed to accept. */
    public static final Capabilities SPEC_DEFAULTS = new Capabilities(1, 1 << 20, 4096, 65535, false);

    /** Upper bounds that keep a hostile announcement from sizing buffers or loops absurdly. */
    public static final int MAX_MSG_FDS_LIMIT = 1024;
    public static final long MAX_DATA_XFER_LIMIT = 1L << 30;
    public static final long MAX_DMA_MAPS_LIMIT = 1L << 31;

    /** Strict about what follows the object: "{...} junk" is malformed, not an object and some junk. */
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /**
     * Reads a peer's VERSION JSON. Null (no JSON) means all defaults; anything malformed or out of
     * range fails with EINVAL and says which key.
     */
    public static Capabilities parse(String json) throws ProtocolException {
        if (json == null) {
            return SPEC_DEFAULTS;
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JacksonException e) {
            throw ProtocolException.invalid("VERSION capabilities are not valid JSON: %s", e.getOriginalMessage());
        }
        if (root == null || root.isMissingNode()) {
            return SPEC_DEFAULTS;
        }
        if (!root.isObject()) {
            throw ProtocolException.invalid("VERSION data must be a JSON object");
        }
        JsonNode caps = root.get(KEY_CAPABILITIES);
        if (caps == null) {
            return SPEC_DEFAULTS;
        }
        if (!caps.isObject()) {
            throw ProtocolException.invalid("'%s' must be a JSON object", KEY_CAPABILITIES);
        }
        int maxMsgFds = SPEC_DEFAULTS.maxMsgFds;
        long maxDataXferSize = SPEC_DEFAULTS.maxDataXferSize;
        long pgsizes = SPEC_DEFAULTS.pgsizes;
        long maxDmaMaps = SPEC_DEFAULTS.maxDmaMaps;
        boolean writeMultiple = SPEC_DEFAULTS.writeMultiple;
        for (Iterator<Map.Entry<String, JsonNode>> it = caps.properties().iterator(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            switch (e.getKey()) {
                case KEY_MAX_MSG_FDS -> maxMsgFds = (int) number(e.getKey(), v, 0, MAX_MSG_FDS_LIMIT);
                case KEY_MAX_DATA_XFER_SIZE -> maxDataXferSize = number(e.getKey(), v, 1, MAX_DATA_XFER_LIMIT);
                case KEY_PGSIZES -> pgsizes = number(e.getKey(), v, 1, Long.MAX_VALUE);
                case KEY_MAX_DMA_MAPS -> maxDmaMaps = number(e.getKey(), v, 0, MAX_DMA_MAPS_LIMIT);
                case KEY_WRITE_MULTIPLE -> {
                    if (!v.isBoolean()) {
                        throw ProtocolException.invalid("capability '%s' must be a boolean", e.getKey());
                    }
                    writeMultiple = v.booleanValue();
                }
                case KEY_TWIN_SOCKET, KEY_MIGRATION -> {
                    if (!v.isObject()) {
                        throw ProtocolException.invalid("capability '%s' must be a JSON object", e.getKey());
                    }
                }
                default -> {
                    // Unknown capabilities are allowed: the version's minor number grows by adding them.
                }
            }
        }
        return new Capabilities(maxMsgFds, maxDataXferSize, pgsizes, maxDmaMaps, writeMultiple);
    }

    private static long number(String key, JsonNode v, long min, long max) throws ProtocolException {
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < min || v.longValue() > max) {
            throw ProtocolException.invalid("capability '%s' must be an integer in [%d, %d], not %s", key, min, max, v);
        }
        return v.longValue();
    }

    /** The full compact JSON announcement of these capabilities. */
    public String toJson() {
        return toJson(Integer.MAX_VALUE, true);
    }

    /**
     * The compact JSON announcement, at most {@code maxBytes} long once NUL-terminated. Keys that do not
     * fit are left out, least important first (a left-out key means its default); returns null if not
     * even an empty object fits. {@code includeWriteMultiple} is false when the peer did not propose it:
     * a reply may only hold a subset of what was proposed.
     */
    public String toJson(long maxBytes, boolean includeWriteMultiple) {
        ObjectNode caps = JSON.createObjectNode();
        // Most important first: the order in which keys are kept when space is short.
        caps.put(KEY_MAX_MSG_FDS, maxMsgFds);
        caps.put(KEY_MAX_DMA_MAPS, maxDmaMaps);
        if (includeWriteMultiple && writeMultiple) {
            caps.put(KEY_WRITE_MULTIPLE, true);
        }
        caps.put(KEY_MAX_DATA_XFER_SIZE, maxDataXferSize);
        caps.put(KEY_PGSIZES, pgsizes);
        ObjectNode root = JSON.createObjectNode();
        root.set(KEY_CAPABILITIES, caps);
        while (true) {
            String text = root.toString();
            if (text.getBytes(StandardCharsets.UTF_8).length + 1 <= maxBytes) {
                return text;
            }
            if (caps.isEmpty()) {
                String empty = "{}";
                return empty.length() + 1 <= maxBytes ? empty : null;
            }
            String last = null;
            for (Iterator<String> names = caps.fieldNames(); names.hasNext();) {
                last = names.next();
            }
            caps.remove(last);
        }
    }
}

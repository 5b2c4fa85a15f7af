package io.umdev.daemon.json;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;
import java.util.SequencedMap;

/** The one JSON configuration of umdev's management: strict on input, plain on output. */
public final class Json {
    /** Refuses duplicate keys and trailing content; keeps big numbers exact. */
    public static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);

    private Json() {
    }

    /**
     * Parses one JSON document.
     *
     * @throws JsonFieldException naming no field, with Jackson's description of the problem
     */
    public static JsonNode parse(String text) throws JsonFieldException {
        try {
            JsonNode node = MAPPER.readTree(text);
            if (node == null || node.isMissingNode()) {
                throw new JsonFieldException(null, "the document is empty; expected a JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new JsonFieldException(null, "not valid JSON: " + e.getOriginalMessage());
        }
    }

    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    public static ArrayNode array() {
        return MAPPER.createArrayNode();
    }

    /** One line, no indentation: the control socket's framing. */
    public static String line(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree could not be written", e);
        }
    }

    /** Indented, for humans and for files. */
    public static String pretty(JsonNode node) {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(node) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree could not be written", e);
        }
    }

    /** mdevctl's ordered attribute list: {@code [{"mtu": "9000"}, {"mac": "..."}]}. */
    public static ArrayNode attrs(SequencedMap<String, String> attrs) {
        ArrayNode list = array();
        for (Map.Entry<String, String> e : attrs.entrySet()) {
            list.addObject().put(e.getKey(), e.getValue());
        }
        return list;
    }
}

package io.umdev.daemon.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.umdev.daemon.definition.StartPolicy;
import io.umdev.daemon.json.Json;
import io.umdev.daemon.json.JsonFieldException;
import io.umdev.daemon.json.JsonFields;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.SequencedMap;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control protocol: one JSON object per line in, one per line out.
 *
 * <p>A request is {@code {"op": "<op>", ...fields}}; a reply is {@code {"ok": true, "result": ...}} or
 * {@code {"ok": false, "error": {"code", "errno"?, "field"?, "message", "hint"?}}}. Every request is
 * checked before anything happens: an unknown op, a missing, extra or mistyped field is a
 * {@code bad-request} naming the field. The ops and their fields:
 *
 * <table>
 *   <caption>operations</caption>
 *   <tr><td>version</td><td>-</td></tr>
 *   <tr><td>types</td><td>parent?</td></tr>
 *   <tr><td>drivers</td><td>-</td></tr>
 *   <tr><td>list</td><td>defined? (bool), uuid?, parent?</td></tr>
 *   <tr><td>show</td><td>uuid</td></tr>
 *   <tr><td>start</td><td>uuid?, parent?, type?, attrs?, driver?</td></tr>
 *   <tr><td>stop</td><td>uuid</td></tr>
 *   <tr><td>define</td><td>uuid?, parent?, type?, attrs?, start? ("auto"|"manual"), driver?</td></tr>
 *   <tr><td>undefine</td><td>uuid</td></tr>
 *   <tr><td>modify</td><td>uuid, set? (attrs), unset? (names), start?, driver?, clearDriver?, live?, defined?</td></tr>
 *   <tr><td>bind</td><td>uuid, driver?</td></tr>
 *   <tr><td>unbind, rebind</td><td>uuid</td></tr>
 *   <tr><td>stats</td><td>uuid?</td></tr>
 * </table>
 *
 * {@code attrs} and {@code set} are mdevctl's ordered lists, {@code [{"mtu": "9000"}, ...]}.
 */
@Singleton
public final class ControlProtocol {
    /** Bumped when a reply changes incompatibly. */
    public static final int VERSION = 1;

    private static final Logger LOG = LoggerFactory.getLogger(ControlProtocol.class);
    private static final List<String> OPS = List.of("version", "types", "drivers", "list", "show", "start", "stop",
            "define", "undefine", "modify", "bind", "unbind", "rebind", "stats");

    private final DeviceControl control;

    @Inject
    public ControlProtocol(DeviceControl control) {
        this.control = control;
    }

    /** Answers one request line with one reply line. Never throws. */
    public String handle(String line) {
        ObjectNode reply = Json.object();
        try {
            JsonNode result = dispatch(line);
            reply.put("ok", true);
            reply.set("result", result);
        } catch (ControlError e) {
            reply.put("ok", false);
            reply.set("error", e.toJson());
        } catch (RuntimeException e) {
            LOG.error("control request failed unexpectedly: {}", line, e);
            reply.put("ok", false);
            reply.set("error", new ControlError(ErrorCode.INTERNAL, null, "the daemon failed: " + e,
                    "the daemon's log has the details").toJson());
        }
        return Json.line(reply);
    }

    private JsonNode dispatch(String line) throws ControlError {
        try {
            JsonFields f = JsonFields.of(Json.parse(line), "a request");
            String op = f.requireString("op");
            return switch (op) {
                case "version" -> {
                    f.finish();
                    yield control.version();
                }
                case "types" -> {
                    String parent = f.string("parent").orElse(null);
                    f.finish();
                    yield control.types(parent);
                }
                case "drivers" -> {
                    f.finish();
                    yield control.drivers();
                }
                case "list" -> {
                    boolean defined = f.bool("defined").orElse(false);
                    UUID uuid = f.uuid("uuid").orElse(null);
                    String parent = f.string("parent").orElse(null);
                    f.finish();
                    yield control.list(defined, uuid, parent);
                }
                case "show" -> {
                    UUID uuid = f.requireUuid("uuid");
                    f.finish();
                    yield control.show(uuid);
                }
                case "start" -> {
                    var r = new DeviceControl.StartRequest(f.uuid("uuid").orElse(null), f.string("parent").orElse(null),
                            f.string("type").orElse(null), f.attrs("attrs").orElse(null), f.string("driver").orElse(null));
                    f.finish();
                    yield control.start(r);
                }
                case "stop" -> {
                    UUID uuid = f.requireUuid("uuid");
                    f.finish();
                    yield control.stop(uuid);
                }
                case "define" -> {
                    var r = new DeviceControl.DefineRequest(f.uuid("uuid").orElse(null),
                            f.string("parent").orElse(null), f.string("type").orElse(null),
                            f.attrs("attrs").orElse(null), startPolicy(f), f.string("driver").orElse(null));
                    f.finish();
                    yield control.define(r);
                }
                case "undefine" -> {
                    UUID uuid = f.requireUuid("uuid");
                    f.finish();
                    yield control.undefine(uuid);
                }
                case "modify" -> {
                    UUID uuid = f.requireUuid("uuid");
                    SequencedMap<String, String> set = f.attrs("set").orElse(new LinkedHashMap<>());
                    List<String> unset = f.strings("unset").orElse(List.of());
                    StartPolicy start = startPolicy(f);
                    String driver = f.string("driver").orElse(null);
                    boolean clearDriver = f.bool("clearDriver").orElse(false);
                    boolean live = f.bool("live").orElse(false);
                    boolean defined = f.bool("defined").orElse(false);
                    f.finish();
                    yield control.modify(new DeviceControl.ModifyRequest(uuid, set, unset, start, driver, clearDriver,
                            live, defined));
                }
                case "bind" -> {
                    UUID uuid = f.requireUuid("uuid");
                    String driver = f.string("driver").orElse(null);
                    f.finish();
                    yield control.bind(uuid, driver);
                }
                case "unbind" -> {
                    UUID uuid = f.requireUuid("uuid");
                    f.finish();
                    yield control.unbind(uuid);
                }
                case "rebind" -> {
                    UUID uuid = f.requireUuid("uuid");
                    f.finish();
                    yield control.rebind(uuid);
                }
                case "stats" -> {
                    UUID uuid = f.uuid("uuid").orElse(null);
                    f.finish();
                    yield control.stats(uuid);
                }
                default -> throw new JsonFieldException("op", "unknown op '" + op + "'; the ops are: "
                        + String.join(", ", OPS));
            };
        } catch (JsonFieldException e) {
            // A value's own message says what to write; a malformed request needs the protocol.
            boolean shape = e.field() == null || e.field().equals("op") || e.getMessage().startsWith("unexpected field")
                    || e.getMessage().contains(" must be ");
            throw ControlError.badRequest(e, shape ? "see the control protocol in the README: one JSON object per "
                    + "line, {\"op\": ...} and the op's fields" : null);
        }
    }

    private static StartPolicy startPolicy(JsonFields f) throws JsonFieldException {
        String text = f.string("start").orElse(null);
        if (text == null) {
            return null;
        }
        StartPolicy start = StartPolicy.parseOrNull(text);
        if (start == null) {
            throw new JsonFieldException("start", "field 'start' must be \"auto\" or \"manual\", not \"" + text + "\"");
        }
        return start;
    }
}

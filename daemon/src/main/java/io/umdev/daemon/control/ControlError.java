package io.umdev.daemon.control;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.umdev.daemon.json.Json;
import io.umdev.daemon.json.JsonFieldException;
import java.util.Objects;

/**
 * A control request failed: what kind of failure, which field is to blame, what was wrong, and what to
 * do about it. Becomes the {@code error} object of a reply.
 */
public final class ControlError extends Exception {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;
    private final String errno;
    private final String field;
    private final String hint;

    public ControlError(ErrorCode code, String errno, String field, String message, String hint) {
        super(message);
        this.code = Objects.requireNonNull(code, "code");
        this.errno = errno;
        this.field = field;
        this.hint = hint;
    }

    public ControlError(ErrorCode code, String field, String message, String hint) {
        this(code, null, field, message, hint);
    }

    public static ControlError badRequest(JsonFieldException e, String hint) {
        return new ControlError(ErrorCode.BAD_REQUEST, e.field(), e.getMessage(), hint);
    }

    public ErrorCode code() {
        return code;
    }

    public String field() {
        return field;
    }

    public String hint() {
        return hint;
    }

    /** {@code {"code": "invalid", "errno": "EINVAL", "field": "attrs.mtu", "message": "...", "hint": "..."}}. */
    public ObjectNode toJson() {
        ObjectNode node = Json.object();
        node.put("code", code.label());
        if (errno != null) {
            node.put("errno", errno);
        }
        if (field != null) {
            node.put("field", field);
        }
        node.put("message", getMessage());
        if (hint != null) {
            node.put("hint", hint);
        }
        return node;
    }
}

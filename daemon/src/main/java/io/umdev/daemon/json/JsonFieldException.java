package io.umdev.daemon.json;

/** A JSON document (a request, a definition, a configuration) has a field that is missing, extra or wrong. */
public final class JsonFieldException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String field;

    public JsonFieldException(String field, String message) {
        super(message);
        this.field = field;
    }

    /** The field at fault, e.g. {@code uuid} or {@code attrs[2]}; null when the document as a whole is. */
    public String field() {
        return field;
    }
}

package io.umdev.it;

import java.io.Serial;

/** The guest printed a result line that does not follow the format, or lacks a line a report needs. */
public final class MalformedResultException extends RuntimeException {

    @Serial
    private static final long serialVersionUID = 1L;

    public MalformedResultException(String message) {
        super(message);
    }

    public MalformedResultException(String message, Throwable cause) {
        super(message, cause);
    }
}

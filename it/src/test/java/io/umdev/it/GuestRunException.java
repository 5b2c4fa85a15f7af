package io.umdev.it;

import java.io.Serial;

/** A guest run that did not reach the guest's end marker; carries the run with QEMU's stderr and the console. */
public final class GuestRunException extends RuntimeException {

    @Serial
    private static final long serialVersionUID = 1L;

    private final transient GuestRun run;

    public GuestRunException(GuestRun run) {
        super(run.describe());
        this.run = run;
    }

    public GuestRun run() {
        return run;
    }
}

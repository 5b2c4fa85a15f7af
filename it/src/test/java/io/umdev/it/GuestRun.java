package io.umdev.it;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What one QEMU guest run left behind: how it ended, the guest's parsed results, the guest console and
 * QEMU's stderr, and where the logs were written.
 *
 * @param name          the guest's name (also its log directory's name)
 * @param outcome       how the run ended
 * @param accel         the accelerator QEMU used (TCG where KVM cannot run a stock kernel)
 * @param qemuExitCode  QEMU's exit status, empty when it was stopped on timeout
 * @param elapsed       from container start to QEMU's exit (or the timeout)
 * @param results       the {@code @umdev} lines the guest printed
 * @param console       the guest's serial console (QEMU's stdout), line by line
 * @param qemuStderr    QEMU's own messages
 * @param commandLine   the full QEMU command line
 * @param logDirectory  where console.log, qemu-stderr.log, qemu-cmdline.txt and results.log are
 */
public record GuestRun(
        String name,
        Outcome outcome,
        Accel accel,
        OptionalLong qemuExitCode,
        Duration elapsed,
        GuestResults results,
        List<String> console,
        List<String> qemuStderr,
        List<String> commandLine,
        Path logDirectory) {

    private static final int CONSOLE_TAIL_LINES = 20;
    /** A container's exit status above this is 128 + the signal that killed QEMU (its PID 1). */
    private static final int SIGNAL_EXIT_BASE = 128;
    private static final Map<Integer, String> SIGNALS = Map.of(6, "SIGABRT", 9, "SIGKILL", 11, "SIGSEGV", 15, "SIGTERM");

    public enum Outcome {
        /** The guest printed its end marker (its workloads may still have reported errors). */
        COMPLETED,
        /** QEMU exited before the guest's end marker: a QEMU error (see qemuStderr) or a guest crash. */
        QEMU_EXITED,
        /** Neither happened within the timeout; the container was stopped. */
        TIMED_OUT
    }

    public GuestRun {
        console = List.copyOf(console);
        qemuStderr = List.copyOf(qemuStderr);
        commandLine = List.copyOf(commandLine);
    }

    public boolean completed() {
        return outcome == Outcome.COMPLETED;
    }

    /** QEMU's stderr as one text. */
    public String qemuError() {
        return String.join("\n", qemuStderr);
    }

    /** This run when it completed; otherwise a {@link GuestRunException} that says why. */
    public GuestRun requireCompleted() {
        if (!completed()) {
            throw new GuestRunException(this);
        }
        return this;
    }

    /** A human explanation of how the run ended, with QEMU's errors and the end of the console. */
    public String describe() {
        String how = switch (outcome) {
            case COMPLETED -> "completed";
            case QEMU_EXITED -> "QEMU exited with status " + exitStatusText() + " before the guest's end marker";
            case TIMED_OUT -> "timed out after " + elapsed.toSeconds() + " s without the guest's end marker";
        };
        StringBuilder text = new StringBuilder("guest '").append(name).append("' ").append(how)
                .append(" (").append(accel).append(", ").append(elapsed.toMillis()).append(" ms)");
        text.append("\nQEMU stderr:").append(qemuStderr.isEmpty() ? " (empty)" : "");
        qemuStderr.forEach(line -> text.append("\n  ").append(line));
        List<String> tail = console.subList(Math.max(0, console.size() - CONSOLE_TAIL_LINES), console.size());
        text.append("\nlast console lines:").append(tail.isEmpty() ? " (none)" : "");
        tail.forEach(line -> text.append("\n  ").append(line));
        return text.append("\nlogs: ").append(logDirectory).toString();
    }

    /** QEMU killed by a signal (e.g. SIGSEGV: QEMU crashed), from the container's exit status. */
    public Optional<String> killedBy() {
        if (qemuExitCode.isEmpty() || qemuExitCode.getAsLong() <= SIGNAL_EXIT_BASE) {
            return Optional.empty();
        }
        int signal = (int) (qemuExitCode.getAsLong() - SIGNAL_EXIT_BASE);
        return Optional.of(SIGNALS.getOrDefault(signal, "signal " + signal));
    }

    private String exitStatusText() {
        String status = Long.toString(qemuExitCode.orElse(-1));
        return killedBy().map(signal -> status + " (killed by " + signal + ")").orElse(status);
    }
}

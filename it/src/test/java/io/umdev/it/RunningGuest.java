package io.umdev.it;

import com.github.dockerjava.api.command.InspectContainerResponse;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.containers.GenericContainer;

/**
 * A QEMU guest whose container is running. {@link #await()} waits for the guest to finish and returns the
 * run; {@link #close()} stops QEMU if it is still running. Several guests may run at once (two net peers).
 */
public final class RunningGuest implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RunningGuest.class);
    private static final Duration POLL_INTERVAL = Duration.ofMillis(100);
    /** After the end marker the guest powers off; QEMU that has not exited by then is stopped. */
    private static final Duration EXIT_GRACE = Duration.ofSeconds(15);
    /** Docker delivers the last output shortly after the exit. */
    private static final Duration OUTPUT_DRAIN = Duration.ofSeconds(5);

    private final GuestSpec spec;
    private final GenericContainer<?> container;
    private final GuestConsole console;
    private final Instant started;
    private GuestRun run;

    RunningGuest(GuestSpec spec, GenericContainer<?> container, GuestConsole console, Instant started) {
        this.spec = spec;
        this.container = container;
        this.console = console;
        this.started = started;
    }

    public String name() {
        return spec.name();
    }

    /**
     * Waits until QEMU exits or the timeout passes, stops the container, writes the logs and returns the
     * run, however it ended. Idempotent.
     */
    public synchronized GuestRun await() {
        if (run != null) {
            return run;
        }
        Instant deadline = started.plus(spec.timeout());
        Instant endSeenAt = null;
        OptionalLong exitCode = OptionalLong.empty();
        try {
            while (Instant.now().isBefore(deadline)) {
                InspectContainerResponse.ContainerState state =
                        container.getDockerClient().inspectContainerCmd(container.getContainerId()).exec().getState();
                if (!Boolean.TRUE.equals(state.getRunning())) {
                    exitCode = OptionalLong.of(state.getExitCodeLong());
                    break;
                }
                if (console.endMarkerSeen()) {
                    endSeenAt = endSeenAt == null ? Instant.now() : endSeenAt;
                    if (Instant.now().isAfter(endSeenAt.plus(EXIT_GRACE))) {
                        LOG.warn("[{}] guest ended but QEMU did not exit within {} s; stopping it", spec.name(), EXIT_GRACE.toSeconds());
                        break;
                    }
                }
                Thread.sleep(POLL_INTERVAL);
            }
            if (exitCode.isPresent() && !console.awaitStreamClosed(OUTPUT_DRAIN)) {
                LOG.warn("[{}] QEMU exited but its output stream stayed open for {} s", spec.name(), OUTPUT_DRAIN.toSeconds());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            LOG.warn("[{}] interrupted while waiting for the guest", spec.name());
        } finally {
            container.stop();
        }
        Duration elapsed = Duration.between(started, Instant.now());
        GuestRun.Outcome outcome = console.endMarkerSeen() ? GuestRun.Outcome.COMPLETED
                : exitCode.isPresent() ? GuestRun.Outcome.QEMU_EXITED
                : GuestRun.Outcome.TIMED_OUT;
        List<String> lines = console.console();
        run = new GuestRun(spec.name(), outcome, spec.accel(), exitCode, elapsed, GuestResults.parse(lines), lines,
                console.stderr(), spec.commandLine(), spec.logDirectory());
        writeLogs(run);
        LOG.info("[{}] {} in {} ms ({}), logs in {}", spec.name(), outcome, elapsed.toMillis(), spec.accel(), spec.logDirectory());
        return run;
    }

    /** The result lines the guest printed so far, while it runs. */
    public GuestResults resultsSoFar() {
        return GuestResults.parse(console.console());
    }

    /**
     * Kills QEMU at once with SIGKILL, as a crash or the OOM killer would: no chance to close anything
     * cleanly. {@link #await()} then reports how the run ended.
     */
    public synchronized void kill() {
        container.getDockerClient().killContainerCmd(container.getContainerId()).withSignal("KILL").exec();
    }

    /** Stops QEMU if the run was not awaited (a test that failed early). */
    @Override
    public synchronized void close() {
        if (run == null) {
            container.stop();
        }
    }

    private void writeLogs(GuestRun finished) {
        Path dir = spec.logDirectory();
        try {
            Files.createDirectories(dir);
            Files.write(dir.resolve("console.log"), finished.console());
            Files.write(dir.resolve("qemu-stderr.log"), finished.qemuStderr());
            Files.write(dir.resolve("results.log"), finished.results().lines().stream().map(ResultLine::toString).toList());
            Files.writeString(dir.resolve("qemu-cmdline.txt"), spec.reproduction() + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the logs of guest " + spec.name() + " to " + dir, e);
        }
    }
}

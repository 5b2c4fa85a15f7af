package io.umdev.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Debian's dpdk-testpmd in the DPDK peer image, run with the docker CLI: {@code --network none}, the socket
 * directory bind-mounted at the same path, EAL in {@code --no-huge} mode (DPDK then backs its memory with a
 * memfd, which it passes to the vhost-user backend). Output goes to a log file; {@link #rxPps} reads
 * testpmd's periodic statistics.
 */
final class Testpmd implements AutoCloseable {
    private static final Pattern RX_PPS = Pattern.compile("Rx-pps:\\s+(\\d+)");
    private static final long STOP_SECONDS = 20;

    private final String name;
    private final Process process;
    private final Path log;

    private Testpmd(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    /**
     * Starts testpmd in a container named {@code name}, running for {@code seconds} (then SIGINT, so it
     * prints its totals and exits).
     */
    static Testpmd start(String image, String name, Path bindDir, Path logDir, int seconds, List<String> eal,
            List<String> app) throws IOException {
        List<String> command = new ArrayList<>(List.of("docker", "run", "--rm", "--name", name, "--network", "none",
                "-v", bindDir + ":" + bindDir, image, "timeout", "--preserve-status", "-s", "INT", Integer.toString(seconds), "dpdk-testpmd",
                "--no-pci", "--no-huge", "-m", "256", "--file-prefix", name));
        command.addAll(eal);
        command.add("--");
        command.addAll(app);
        Files.createDirectories(logDir);
        Path log = logDir.resolve(name + ".log");
        Files.writeString(logDir.resolve(name + ".cmdline.txt"), String.join(" ", command) + "\n");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new Testpmd(name, p, log);
    }

    /** Waits for the run to end; its exit status. */
    int await(long timeoutSeconds) throws InterruptedException {
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            throw new AssertionError(name + " did not finish in " + timeoutSeconds + " s; see " + log);
        }
        return process.exitValue();
    }

    String output() throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    /** Every Rx-pps value testpmd printed for its port, in order. */
    List<Long> rxPps() throws IOException {
        List<Long> values = new ArrayList<>();
        Matcher m = RX_PPS.matcher(output());
        while (m.find()) {
            values.add(Long.parseLong(m.group(1)));
        }
        return values;
    }

    /** The median of the periodic Rx-pps values after the first (which includes the start-up). */
    long steadyRxPps() throws IOException {
        List<Long> v = new ArrayList<>(rxPps());
        if (v.size() < 2) {
            throw new AssertionError(name + " printed fewer than two statistics periods:\n" + output());
        }
        v.remove(0);
        v.sort(null);
        return v.get(v.size() / 2);
    }

    Path log() {
        return log;
    }

    @Override
    public void close() throws IOException {
        try {
            stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    private void stop() throws IOException, InterruptedException {
        if (process.isAlive()) {
            new ProcessBuilder("docker", "kill", "--signal", "INT", name).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor(STOP_SECONDS, TimeUnit.SECONDS);
            if (!process.waitFor(STOP_SECONDS, TimeUnit.SECONDS)) {
                new ProcessBuilder("docker", "rm", "-f", name).redirectOutput(ProcessBuilder.Redirect.DISCARD).start()
                        .waitFor(STOP_SECONDS, TimeUnit.SECONDS);
                process.destroyForcibly();
            }
        }
    }
}

package io.umdev.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.ProcessBuilder.Redirect;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The real daemon, {@code umdevd}, as users run it: its own JVM on this test's class path (every parent and
 * driver of the build), private state and run directories, and a configuration naming the instances the test
 * needs. The virtio-mdev driver serves each virtio instance on {@code <run-dir>/<label>.sock}; the test hands
 * those sockets to QEMU and asks the daemon for counters over its control socket, as {@code umdevctl} does.
 */
final class UmdevDaemon implements AutoCloseable {

    /** An instance of the configuration: created at every daemon start, its socket named after the label. */
    record Instance(String label, UUID uuid, String parent, String type, Map<String, String> attrs) {

        Instance {
            attrs = new LinkedHashMap<>(attrs);
        }
    }

    static final String SOCKET_SUFFIX = ".sock";
    private static final Logger LOG = LoggerFactory.getLogger(UmdevDaemon.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    private static final String READY = "umdevd ready";
    private static final Duration START = Duration.ofMinutes(1);
    private static final Duration STOP = Duration.ofSeconds(30);
    private static final Duration POLL = Duration.ofMillis(50);
    /**
     * USER_HZ, the unit of the times in /proc/[pid]/stat: fixed at 100 by the kernel's ABI on x86-64 whatever
     * CONFIG_HZ is ({@code getconf CLK_TCK} says 100 on the machines these tests run on).
     */
    private static final long CLOCK_TICKS_PER_SECOND = 100;
    /** utime and stime: fields 14 and 15 of /proc/[pid]/stat, counted from the state (field 3) after comm's ')'. */
    private static final int UTIME_AFTER_COMM = 14 - 3;
    private static final int STIME_AFTER_COMM = 15 - 3;

    private final Process process;
    private final Path runDir;
    private final Path log;
    private final List<Instance> instances;

    private UmdevDaemon(Process process, Path runDir, Path log, List<Instance> instances) {
        this.process = process;
        this.runDir = runDir;
        this.log = log;
        this.instances = List.copyOf(instances);
    }

    /**
     * Starts umdevd with these instances in {@code dir} (state and run directories) and waits until it is
     * ready and every instance's socket exists. The daemon's output goes to {@code logDir/umdevd.log}.
     */
    static UmdevDaemon start(Path dir, Path logDir, List<Instance> instances) throws IOException, InterruptedException {
        Path state = Files.createDirectories(dir.resolve("state"));
        Path run = dir.resolve("run");
        Path config = dir.resolve("umdevd.json");
        Files.writeString(config, configuration(instances));
        Files.createDirectories(logDir);
        Path log = logDir.resolve("umdevd.log");
        Process process = new ProcessBuilder(JAVA, "--enable-native-access=ALL-UNNAMED", "-cp", classPath(),
                "io.umdev.daemon.Umdevd", "--state-dir", state.toString(), "--run-dir", run.toString(),
                "--config", config.toString())
                .redirectErrorStream(true).redirectOutput(Redirect.appendTo(log.toFile())).start();
        UmdevDaemon daemon = new UmdevDaemon(process, run, log, instances);
        try {
            daemon.awaitReady();
        } catch (IOException | InterruptedException | RuntimeException | AssertionError e) {
            daemon.close();
            throw e;
        }
        LOG.info("umdevd (pid {}) serves {} in {}", process.pid(),
                instances.stream().map(Instance::label).toList(), run);
        return daemon;
    }

    /** The vfio-user socket of the instance with this label. */
    Path socket(String label) {
        return runDir.resolve(label + SOCKET_SUFFIX);
    }

    Path runDirectory() {
        return runDir;
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /**
     * The CPU time the daemon has consumed so far, all its threads, user and system ({@code utime + stime} of
     * /proc/[pid]/stat): take it before and after a guest run to see what serving the guest cost.
     */
    Duration cpuTime() {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat"));
            // comm, in parentheses, may contain spaces: the fields that follow start after its last ')'.
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            long ticks = Long.parseLong(fields[UTIME_AFTER_COMM]) + Long.parseLong(fields[STIME_AFTER_COMM]);
            return Duration.ofMillis(TimeUnit.SECONDS.toMillis(ticks) / CLOCK_TICKS_PER_SECOND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The daemon's output so far. */
    String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One control request ({@code {"op": ...}}), as umdevctl sends it; the result, or an AssertionError. */
    JsonNode request(ObjectNode request) throws IOException {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(runDir.resolve("control.sock")))) {
            var out = Channels.newOutputStream(channel);
            out.write((JSON.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
            String line = in.readLine();
            if (line == null) {
                throw new AssertionError("umdevd closed the control connection without a reply to " + request);
            }
            JsonNode reply = JSON.readTree(line);
            if (!reply.path("ok").asBoolean()) {
                throw new AssertionError("umdevd refused " + request + ": " + reply.path("error"));
            }
            return reply.path("result");
        }
    }

    /** The device counters of one instance ({@code umdevctl stats -u}). */
    Map<String, Long> statistics(UUID uuid) throws IOException {
        JsonNode device = request(JSON.createObjectNode().put("op", "stats").put("uuid", uuid.toString())).path("device");
        Map<String, Long> counters = new LinkedHashMap<>();
        device.properties().forEach(entry -> {
            if (entry.getValue().isIntegralNumber()) {
                counters.put(entry.getKey(), entry.getValue().asLong());
            }
        });
        if (counters.isEmpty()) {
            throw new AssertionError("umdevd reported no counters for " + uuid + ": " + device);
        }
        return counters;
    }

    /** One counter of one instance. */
    long counter(UUID uuid, String name) throws IOException {
        Long value = statistics(uuid).get(name);
        if (value == null) {
            throw new AssertionError("instance " + uuid + " has no counter " + name + ": " + statistics(uuid).keySet());
        }
        return value;
    }

    /** {@code umdevctl show -u}: definition, live state, attributes, counters. */
    JsonNode show(UUID uuid) throws IOException {
        return request(JSON.createObjectNode().put("op", "show").put("uuid", uuid.toString()));
    }

    /** SIGTERM, as an operator stops it; SIGKILL if it does not exit in time. */
    @Override
    public void close() {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(STOP.toSeconds(), TimeUnit.SECONDS)) {
                LOG.warn("umdevd did not stop within {} s of SIGTERM; killing it", STOP.toSeconds());
                process.destroyForcibly().waitFor(STOP.toSeconds(), TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    private void awaitReady() throws IOException, InterruptedException {
        Instant deadline = Instant.now().plus(START);
        while (Instant.now().isBefore(deadline)) {
            if (!process.isAlive()) {
                throw new AssertionError("umdevd exited with " + process.exitValue() + " before it was ready:\n" + log());
            }
            if (log().contains(READY) && instances.stream().allMatch(i -> Files.exists(socket(i.label())))) {
                return;
            }
            Thread.sleep(POLL);
        }
        throw new AssertionError("umdevd was not ready (or a socket is missing) within " + START.toSeconds() + " s:\n" + log());
    }

    private static String configuration(List<Instance> instances) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode list = root.putArray("instances");
        for (Instance instance : instances) {
            ObjectNode node = list.addObject()
                    .put("label", instance.label())
                    .put("uuid", instance.uuid().toString())
                    .put("parent", instance.parent())
                    .put("type", instance.type());
            ArrayNode attrs = node.putArray("attrs");
            instance.attrs().forEach((name, value) -> attrs.addObject().put(name, value));
        }
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
    }

    /** This JVM's class path: the real one, also under failsafe's manifest-only jar. */
    private static String classPath() {
        List<String> candidates = new ArrayList<>();
        candidates.add(System.getProperty("surefire.test.class.path"));
        candidates.add(System.getProperty("java.class.path"));
        return candidates.stream().filter(c -> c != null && !c.isBlank()).findFirst().orElseThrow();
    }
}

package io.umdev.daemon;

import io.umdev.daemon.json.JsonFieldException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code umdevd}: the umdev daemon. Runs until SIGTERM or SIGINT, then shuts down cleanly. */
@Command(name = "umdevd", mixinStandardHelpOptions = true, versionProvider = Umdevd.Version.class,
        sortOptions = false, usageHelpAutoWidth = true, exitCodeOnInvalidInput = 1, exitCodeOnExecutionException = 2,
        description = {"The umdev daemon: loads the parent plugins, starts the mdev bus and its drivers, brings back "
                + "the auto-start definitions, creates the configured instances and serves the control socket "
                + "that umdevctl talks to."},
        footer = {"", "Exit status: 0 after a clean shutdown (SIGTERM/SIGINT exit 143/130), 1 for a bad command line, "
                + "2 if the daemon cannot start (configuration, directories, another daemon)."})
public final class Umdevd implements Callable<Integer> {
    static final int CANNOT_START = 2;

    @Option(names = "--state-dir", paramLabel = "DIR", description = "definitions, plugins and parents' files "
            + "(default: $XDG_STATE_HOME/umdev, ~/.local/state/umdev; root: /var/lib/umdev)")
    Path stateDir;

    @Option(names = "--run-dir", paramLabel = "DIR", description = "where the control socket lives "
            + "(default: $XDG_RUNTIME_DIR/umdev, /run/user/UID/umdev; root: /run/umdev)")
    Path runDir;

    @Option(names = "--plugin-dir", paramLabel = "DIR", description = "a directory of parent plugin jars; "
            + "repeatable (default: STATE-DIR/plugins)")
    List<Path> pluginDirs;

    @Option(names = "--config", paramLabel = "FILE", description = "instances to create at start, replacing the "
            + "embedded default (a sim-blk and a sim-net instance)")
    Path config;

    @Option(names = "--dma-mappings", paramLabel = "N", defaultValue = "64",
            description = "DMA ranges each instance's client may map (default: ${DEFAULT-VALUE})")
    int dmaMappings;

    @Option(names = "--log-level", paramLabel = "LEVEL", defaultValue = "info",
            description = "trace, debug, info, warn or error (default: ${DEFAULT-VALUE})")
    String logLevel;

    public static void main(String[] args) {
        System.exit(new CommandLine(new Umdevd()).execute(args));
    }

    @Override
    public Integer call() throws InterruptedException {
        if (!List.of("trace", "debug", "info", "warn", "error").contains(logLevel)) {
            System.err.println("umdevd: --log-level must be trace, debug, info, warn or error, not '" + logLevel + "'");
            return 1;
        }
        configureLogging(logLevel);
        Logger log = LoggerFactory.getLogger(Umdevd.class);
        if (dmaMappings < 1 || dmaMappings > 65535) {
            log.error("--dma-mappings must be 1..65535, not {}", dmaMappings);
            return 1;
        }
        Path state = stateDir != null ? stateDir : UmdevPaths.defaultStateDir();
        Path run = runDir != null ? runDir : UmdevPaths.defaultRunDir();
        List<Path> plugins = pluginDirs == null || pluginDirs.isEmpty() ? List.of(UmdevPaths.plugins(state)) : pluginDirs;
        DaemonOptions options = new DaemonOptions(state, run, plugins, dmaMappings);

        DaemonConfiguration configuration;
        try {
            configuration = config == null ? DaemonConfiguration.embedded() : DaemonConfiguration.load(config);
        } catch (IOException e) {
            log.error("cannot read the configuration {}: {}", config, e.toString());
            return CANNOT_START;
        } catch (JsonFieldException e) {
            log.error("the configuration {} is invalid{}: {}", config == null ? "(embedded)" : config,
                    e.field() == null ? "" : " at " + e.field(), e.getMessage());
            return CANNOT_START;
        }

        log.info("umdevd {} starting: state {}, run {}, plugins {}", new Version().getVersion()[0], options.stateDir(),
                options.runDir(), options.pluginDirs());
        Daemon daemon = DaggerDaemonComponent.factory().create(options, configuration).daemon();
        CountDownLatch forever = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("umdevd-shutdown").unstarted(() -> {
            log.info("umdevd shutting down");
            daemon.close();
        }));
        try {
            daemon.start();
        } catch (IOException | RuntimeException e) {
            log.error("umdevd cannot start: {}", e.getMessage() != null ? e.getMessage() : e.toString());
            log.debug("startup failure", e);
            daemon.close();
            return CANNOT_START;
        }
        forever.await();
        return 0;
    }

    /** slf4j-simple reads its settings once, from system properties; a -D given by the user wins. */
    private static void configureLogging(String level) {
        setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", level);
        setIfAbsent("org.slf4j.simpleLogger.showDateTime", "true");
        setIfAbsent("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
        setIfAbsent("org.slf4j.simpleLogger.showThreadName", "false");
        setIfAbsent("org.slf4j.simpleLogger.showShortLogName", "true");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** The version from the jar's manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Umdevd.class.getPackage().getImplementationVersion();
            return new String[] {version == null ? "(development build)" : version};
        }
    }
}

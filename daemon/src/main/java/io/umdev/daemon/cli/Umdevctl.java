package io.umdev.daemon.cli;

import io.umdev.daemon.UmdevPaths;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * {@code umdevctl}: the control CLI of umdevd, shaped like mdevctl and vdpa. Each subcommand sends one
 * request to the daemon's control socket and prints the reply as a table, or as JSON with
 * {@code --json}.
 */
@Command(name = "umdevctl", mixinStandardHelpOptions = true, versionProvider = Umdevctl.Version.class,
        usageHelpAutoWidth = true, sortOptions = false,
        exitCodeOnInvalidInput = Umdevctl.USAGE, exitCodeOnExecutionException = Umdevctl.FAILED,
        description = "Manage umdev's mediated devices: parents and their types, instances (running and defined), "
                + "drivers.",
        subcommands = {
            Subcommands.Types.class, Subcommands.Drivers.class, Subcommands.ListInstances.class,
            Subcommands.Show.class, Subcommands.Start.class, Subcommands.Stop.class, Subcommands.Define.class,
            Subcommands.Undefine.class, Subcommands.Modify.class, Subcommands.Bind.class, Subcommands.Unbind.class,
            Subcommands.Rebind.class, Subcommands.Stats.class, Subcommands.DaemonVersion.class,
            CommandLine.HelpCommand.class},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {
            "0:done",
            "1:bad command line (unknown option, missing value...)",
            "2:not found: no such parent, type, driver, instance or definition",
            "3:invalid or refused: a bad value, a UUID in use, no available instance, a parent or driver said no",
            "4:umdevd is not reachable (not running, another --run-dir, no permission)",
            "5:umdevd or a parent failed (see the daemon's log)"},
        footer = {"", "Examples and the definition format: README.md, section 'The daemon and umdevctl'."})
public final class Umdevctl implements Runnable {
    static final int OK = 0;
    static final int USAGE = 1;
    static final int NOT_FOUND = 2;
    static final int INVALID = 3;
    static final int UNREACHABLE = 4;
    static final int FAILED = 5;

    @Spec
    CommandSpec spec;

    @Option(names = "--run-dir", paramLabel = "DIR", scope = ScopeType.INHERIT,
            description = "the daemon's run directory, where its control socket is (default: $XDG_RUNTIME_DIR/umdev, "
                    + "/run/user/UID/umdev; root: /run/umdev)")
    Path runDir;

    @Option(names = "--state-dir", paramLabel = "DIR", scope = ScopeType.INHERIT,
            description = "the daemon's state directory; 'list --defined' reads the definitions there when the daemon "
                    + "is not running (default: $XDG_STATE_HOME/umdev, ~/.local/state/umdev; root: /var/lib/umdev)")
    Path stateDir;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60", scope = ScopeType.INHERIT,
            description = "how long to wait for the daemon's reply (default: ${DEFAULT-VALUE})")
    int timeoutSeconds;

    public static void main(String[] args) {
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        System.exit(commandLine().execute(args));
    }

    /** The configured command line, for main and for tests that run the CLI in-process. */
    public static CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(new Umdevctl());
        configureExitCodes(commandLine);
        return commandLine;
    }

    /** The {@code @Command} attributes apply to one command only; every subcommand gets the same codes. */
    private static void configureExitCodes(CommandLine commandLine) {
        commandLine.getCommandSpec().exitCodeOnInvalidInput(USAGE).exitCodeOnExecutionException(FAILED);
        commandLine.getSubcommands().values().forEach(Umdevctl::configureExitCodes);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is needed, e.g. 'umdevctl list'");
    }

    Path runDir() {
        return runDir != null ? runDir : UmdevPaths.defaultRunDir();
    }

    Path stateDir() {
        return stateDir != null ? stateDir : UmdevPaths.defaultStateDir();
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Umdevctl.class.getPackage().getImplementationVersion();
            return new String[] {"umdevctl " + (version == null ? "(development build)" : version)};
        }
    }
}

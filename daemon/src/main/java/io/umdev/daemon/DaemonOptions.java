package io.umdev.daemon;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * How the daemon was asked to run.
 *
 * @param stateDir definitions, plugins and parents' files; kept across restarts
 * @param runDir the control socket; may be cleared at reboot
 * @param pluginDirs directories whose {@code *.jar} files are parent plugins
 * @param dmaMappings DMA ranges each instance's client may map
 */
public record DaemonOptions(Path stateDir, Path runDir, List<Path> pluginDirs, int dmaMappings) {
    public DaemonOptions {
        stateDir = Objects.requireNonNull(stateDir, "stateDir").toAbsolutePath().normalize();
        runDir = Objects.requireNonNull(runDir, "runDir").toAbsolutePath().normalize();
        pluginDirs = pluginDirs.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    }

    public Path controlSocket() {
        return UmdevPaths.controlSocket(runDir);
    }

    public Path definitionsDir() {
        return UmdevPaths.definitions(stateDir);
    }
}

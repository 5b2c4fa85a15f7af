package io.umdev.mdev;

import java.nio.file.Path;
import java.util.Objects;

/**
 * What the host tells parent plugins about where they run.
 *
 * @param stateDirectory a directory kept across restarts where parents may keep files (disk images,
 *     learned state); each parent should use the subdirectory {@link #directoryFor(String)}
 */
public record ParentEnvironment(Path stateDirectory) {
    public ParentEnvironment {
        Objects.requireNonNull(stateDirectory, "stateDirectory");
    }

    /** {@code <stateDirectory>/<parentName>}: a parent's own directory (not created here). */
    public Path directoryFor(String parentName) {
        return stateDirectory.resolve(parentName);
    }
}

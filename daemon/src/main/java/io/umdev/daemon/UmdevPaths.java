package io.umdev.daemon;

import io.umdev.linux.ProcessIdentity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;

/**
 * Where umdev keeps things. The daemon and the CLI compute the same defaults, so that both find the
 * control socket without being told.
 *
 * <ul>
 *   <li>state directory (definitions, plugins, parents' files): {@code $XDG_STATE_HOME/umdev}, else
 *       {@code ~/.local/state/umdev}; for root {@code /var/lib/umdev};</li>
 *   <li>run directory (the control socket): {@code $XDG_RUNTIME_DIR/umdev}, else
 *       {@code /run/user/<uid>/umdev} when that exists, else {@code <tmpdir>/umdev-<uid>}; for root
 *       {@code /run/umdev}.</li>
 * </ul>
 */
public final class UmdevPaths {
    public static final String CONTROL_SOCKET = "control.sock";
    public static final String DEFINITIONS = "definitions";
    public static final String PLUGINS = "plugins";
    public static final String PARENTS = "parents";
    public static final String LOCK = "umdevd.lock";

    private static final Set<PosixFilePermission> PRIVATE = PosixFilePermissions.fromString("rwx------");

    private UmdevPaths() {
    }

    public static Path defaultStateDir() {
        return defaultStateDir(System.getenv(), ProcessIdentity.uid(), Path.of(System.getProperty("user.home")));
    }

    static Path defaultStateDir(Map<String, String> env, long uid, Path home) {
        if (uid == 0) {
            return Path.of("/var/lib/umdev");
        }
        String xdg = env.get("XDG_STATE_HOME");
        if (xdg != null && xdg.startsWith("/")) {
            return Path.of(xdg, "umdev");
        }
        return home.resolve(".local/state/umdev");
    }

    public static Path defaultRunDir() {
        return defaultRunDir(System.getenv(), ProcessIdentity.uid(), Path.of(System.getProperty("java.io.tmpdir")));
    }

    static Path defaultRunDir(Map<String, String> env, long uid, Path tmp) {
        if (uid == 0) {
            return Path.of("/run/umdev");
        }
        String xdg = env.get("XDG_RUNTIME_DIR");
        if (xdg != null && xdg.startsWith("/")) {
            return Path.of(xdg, "umdev");
        }
        Path userRun = Path.of("/run/user", Long.toString(uid));
        if (Files.isDirectory(userRun)) {
            return userRun.resolve("umdev");
        }
        return tmp.resolve("umdev-" + uid);
    }

    public static Path controlSocket(Path runDir) {
        return runDir.resolve(CONTROL_SOCKET);
    }

    public static Path definitions(Path stateDir) {
        return stateDir.resolve(DEFINITIONS);
    }

    public static Path plugins(Path stateDir) {
        return stateDir.resolve(PLUGINS);
    }

    public static Path parents(Path stateDir) {
        return stateDir.resolve(PARENTS);
    }

    /**
     * Makes sure {@code dir} is a directory only this user can use: created 0700 if missing; if it
     * exists it must be ours, and group or other access is taken away. A shared /tmp fallback must not
     * let another user plant a socket there.
     */
    public static void ensurePrivateDirectory(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir.getParent());
            try {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PRIVATE));
            } catch (java.nio.file.FileAlreadyExistsException raced) {
                // Someone else made it meanwhile: checked below like any existing directory.
            }
        }
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(dir + " exists and is not a directory");
        }
        long owner = ((Number) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS)).longValue();
        if (owner != ProcessIdentity.uid()) {
            throw new IOException(dir + " belongs to uid " + owner + ", not to this user (uid " + ProcessIdentity.uid()
                    + "); choose another directory with --run-dir / --state-dir");
        }
        if (!Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS).equals(PRIVATE)) {
            Files.setPosixFilePermissions(dir, PRIVATE);
        }
    }
}

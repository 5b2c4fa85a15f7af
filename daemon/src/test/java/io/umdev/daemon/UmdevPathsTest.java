package io.umdev.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.ProcessIdentity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Default directories per user, and the private run directory. */
class UmdevPathsTest {
    @TempDir
    Path dir;

    @Test
    void stateDirFollowsXdgThenHomeAndRootUsesVarLib() {
        Path home = Path.of("/home/ada");
        assertEquals(Path.of("/xdg/state/umdev"), UmdevPaths.defaultStateDir(Map.of("XDG_STATE_HOME", "/xdg/state"), 1000, home));
        assertEquals(Path.of("/home/ada/.local/state/umdev"), UmdevPaths.defaultStateDir(Map.of(), 1000, home));
        assertEquals(Path.of("/home/ada/.local/state/umdev"),
                UmdevPaths.defaultStateDir(Map.of("XDG_STATE_HOME", "relative"), 1000, home), "relative XDG is ignored");
        assertEquals(Path.of("/var/lib/umdev"), UmdevPaths.defaultStateDir(Map.of("XDG_STATE_HOME", "/x"), 0, home));
    }

    @Test
    void runDirFollowsXdgThenRunUserThenTmpAndRootUsesRun() {
        Path tmp = Path.of("/tmp");
        assertEquals(Path.of("/xdg/run/umdev"), UmdevPaths.defaultRunDir(Map.of("XDG_RUNTIME_DIR", "/xdg/run"), 4242, tmp));
        Path expected = Files.isDirectory(Path.of("/run/user/4242")) ? Path.of("/run/user/4242/umdev")
                : Path.of("/tmp/umdev-4242");
        assertEquals(expected, UmdevPaths.defaultRunDir(Map.of(), 4242, tmp));
        assertEquals(Path.of("/run/umdev"), UmdevPaths.defaultRunDir(Map.of("XDG_RUNTIME_DIR", "/x"), 0, tmp));
    }

    @Test
    void aPrivateDirectoryIsCreated0700AndTightenedIfLoose() throws IOException {
        Path run = dir.resolve("a/run");
        UmdevPaths.ensurePrivateDirectory(run);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(run)));

        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxrwxrwx"));
        UmdevPaths.ensurePrivateDirectory(run);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(run)));
    }

    @Test
    void aFileWhereTheDirectoryShouldBeIsRefused() throws IOException {
        Path file = Files.writeString(dir.resolve("run"), "x");
        IOException e = assertThrows(IOException.class, () -> UmdevPaths.ensurePrivateDirectory(file));
        assertTrue(e.getMessage().contains("not a directory"), e.getMessage());
    }

    @Test
    void aDirectoryOfAnotherUserIsRefused() throws IOException {
        Path foreign;
        if (ProcessIdentity.uid() == 0) {
            foreign = Files.createDirectory(dir.resolve("theirs"));
            Files.setAttribute(foreign, "unix:uid", 4242);
        } else {
            foreign = Path.of("/");
        }
        IOException e = assertThrows(IOException.class, () -> UmdevPaths.ensurePrivateDirectory(foreign));
        assertTrue(e.getMessage().contains("belongs to uid"), e.getMessage());
    }
}

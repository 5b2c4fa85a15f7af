package io.umdev.daemon.definition;

import io.umdev.daemon.json.Json;
import io.umdev.daemon.json.JsonFieldException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The definitions directory: one {@code <uuid>.json} per defined instance. Writes are crash-safe: the
 * new content goes to a temporary file in the same directory, which is fsynced, renamed over the old
 * file, and the directory fsynced; a crash leaves either the old definition or the new one, never a
 * mix, and at worst a stray temporary file that {@link #removeLeftovers()} clears. Reads go to the
 * disk every time, so a definition is never stale. Not synchronized: the caller serializes writes.
 */
public final class DefinitionStore {
    private static final Logger LOG = LoggerFactory.getLogger(DefinitionStore.class);
    private static final String SUFFIX = ".json";
    private static final String TEMP_SUFFIX = ".tmp";

    private final Path directory;

    public DefinitionStore(Path directory) {
        this.directory = directory;
    }

    public Path directory() {
        return directory;
    }

    /** Where the definition of {@code uuid} lives. */
    public Path fileOf(UUID uuid) {
        return directory.resolve(uuid + SUFFIX);
    }

    /** Creates the directory (0700) if it is missing. */
    public void create() throws IOException {
        if (!Files.isDirectory(directory)) {
            Files.createDirectories(directory,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
    }

    /**
     * Every readable definition, ordered by UUID. A file that cannot be read or parsed, or whose name
     * is not its UUID, is logged and skipped (and left alone, for a human to look at).
     */
    public List<Definition> loadAll() throws IOException {
        List<Definition> found = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "*" + SUFFIX)) {
            for (Path file : files) {
                if (file.getFileName().toString().startsWith(".")) {
                    continue;
                }
                try {
                    found.add(read(file));
                } catch (IOException | JsonFieldException e) {
                    LOG.warn("ignoring definition file {}: {}", file, e.getMessage());
                }
            }
        } catch (NoSuchFileException e) {
            return List.of();
        }
        found.sort(Comparator.comparing(d -> d.uuid().toString()));
        return found;
    }

    /** The definition of {@code uuid}, if there is a valid one. */
    public Optional<Definition> find(UUID uuid) throws IOException {
        Path file = fileOf(uuid);
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        try {
            return Optional.of(read(file));
        } catch (JsonFieldException e) {
            throw new IOException("definition file " + file + " is invalid: " + e.getMessage()
                    + "; fix or remove the file", e);
        }
    }

    private Definition read(Path file) throws IOException, JsonFieldException {
        Definition definition = Definition.fromJson(Json.parse(Files.readString(file, StandardCharsets.UTF_8)));
        String expected = definition.uuid() + SUFFIX;
        if (!file.getFileName().toString().equals(expected)) {
            throw new JsonFieldException("uuid", "the file is named " + file.getFileName() + " but holds UUID "
                    + definition.uuid() + " (expected " + expected + ")");
        }
        return definition;
    }

    /** Writes (or replaces) a definition, crash-safely. */
    public void write(Definition definition) throws IOException {
        byte[] bytes = Json.pretty(definition.toJson()).getBytes(StandardCharsets.UTF_8);
        Path target = fileOf(definition.uuid());
        Path temp = Files.createTempFile(directory, "." + definition.uuid() + ".", TEMP_SUFFIX);
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer buffer = ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            temp = null;
            syncDirectory();
        } finally {
            if (temp != null) {
                Files.deleteIfExists(temp);
            }
        }
    }

    /**
     * Removes a definition, durably.
     *
     * @return false if there was none
     */
    public boolean delete(UUID uuid) throws IOException {
        if (!Files.deleteIfExists(fileOf(uuid))) {
            return false;
        }
        syncDirectory();
        return true;
    }

    /** Deletes temporary files left by a write that a crash interrupted. */
    public void removeLeftovers() throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, ".*" + TEMP_SUFFIX)) {
            for (Path file : files) {
                LOG.info("removing {}, left by an interrupted write", file);
                Files.deleteIfExists(file);
            }
        } catch (NoSuchFileException e) {
            // Nothing was ever written.
        }
    }

    /**
     * fsync on the directory, so a rename or unlink is durable. On Linux, {@link FileChannel#force} on a
     * channel opened read-only on a directory does exactly that.
     */
    private void syncDirectory() throws IOException {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }
}

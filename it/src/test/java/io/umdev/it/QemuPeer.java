package io.umdev.it;

import com.github.dockerjava.api.exception.NotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.testcontainers.DockerClientFactory;

/**
 * The real peer: QEMU 11.1 in the locally provisioned image, booting the provisioned Linux guest through the
 * local Docker engine. Obtained as a test parameter from {@link QemuPeerExtension} (via {@link QemuPeerTest}),
 * which skips or fails the test when the peer is unavailable; logs go to this test's log directory.
 */
public final class QemuPeer {

    /** Root of the per-test log directories (failsafe sets it to target/it-logs). */
    public static final String LOGS_PROPERTY = "umdev.it.logs";
    static final Path DEFAULT_LOGS = Path.of("target", "it-logs");
    private static final Path DEFAULT_DOCKER_SOCKET = Path.of("/var/run/docker.sock");

    private final Provisioning provisioning;
    private final Path logDirectory;

    QemuPeer(Provisioning provisioning, Path logDirectory) {
        this.provisioning = provisioning;
        this.logDirectory = logDirectory;
    }

    /** A new guest to configure and boot; {@code name} names its log directory and container. */
    public QemuGuest guest(String name) {
        return new QemuGuest(this, name);
    }

    public Provisioning provisioning() {
        return provisioning;
    }

    /** This test's log directory; each guest writes into a subdirectory named after it. */
    public Path logDirectory() {
        return logDirectory;
    }

    static Path logRoot() {
        return Optional.ofNullable(System.getProperty(LOGS_PROPERTY)).map(Path::of).orElse(DEFAULT_LOGS);
    }

    /**
     * Whether the peer can run here: a Docker engine answers, provision.sh completed, and its image and guest
     * are present. Returns the provisioning, or why not.
     */
    static Availability probe() {
        boolean defaultSocket = System.getenv("DOCKER_HOST") == null;
        if (defaultSocket && !Files.exists(DEFAULT_DOCKER_SOCKET)) {
            return Availability.missing("no Docker engine: " + DEFAULT_DOCKER_SOCKET + " does not exist and DOCKER_HOST is unset");
        }
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            return Availability.missing("no Docker engine answers (see the Testcontainers log above)");
        }
        Path cache = Provisioning.cacheDirectory();
        Provisioning provisioning;
        try {
            Optional<Provisioning> loaded = Provisioning.load(cache);
            if (loaded.isEmpty()) {
                return Availability.missing("not provisioned: no " + cache.resolve(Provisioning.PROPERTIES_FILE));
            }
            provisioning = loaded.get();
        } catch (IOException e) {
            return Availability.missing("cannot read the provisioning in " + cache + ": " + e.getMessage());
        }
        try {
            DockerClientFactory.instance().client().inspectImageCmd(provisioning.image()).exec();
        } catch (NotFoundException e) {
            return Availability.missing("the peer image " + provisioning.image() + " is not in the local engine");
        }
        for (Path file : new Path[] {provisioning.guestKernel(), provisioning.guestInitrd()}) {
            if (!Files.isReadable(file)) {
                return Availability.missing("the guest file " + file + " is missing");
            }
        }
        return new Availability(Optional.of(provisioning), Optional.empty());
    }

    /** The provisioning when the peer can run, else the reason it cannot. */
    record Availability(Optional<Provisioning> provisioning, Optional<String> problem) {

        static Availability missing(String problem) {
            return new Availability(Optional.empty(), Optional.of(problem + "; run " + Provisioning.PROVISION_COMMAND));
        }
    }
}

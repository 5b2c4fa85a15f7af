package io.umdev.it;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Properties;

/**
 * What {@code it/provision/provision.sh} produced, read from the {@code it.properties} it writes into the
 * cache: that file is the one place naming the peer image and the guest the tests use.
 *
 * @param image              the local QEMU peer image, e.g. {@code umdev/qemu-peer:11.1.3-ds-1-bpo13-1-1efe5bb6153b}
 * @param qemuVersion        the Debian version of qemu-system-x86 in that image
 * @param guestKernel        the guest kernel (bzImage) on the host
 * @param guestInitrd        the guest initramfs on the host
 * @param guestKernelRelease {@code uname -r} of the guest kernel
 */
public record Provisioning(String image, String qemuVersion, Path guestKernel, Path guestInitrd, String guestKernelRelease) {

    /** Overrides the cache directory (else {@value #CACHE_ENV}, else {@code ~/.cache/umdev/it}), as in lib.sh. */
    public static final String CACHE_PROPERTY = "umdev.it.cache";
    public static final String CACHE_ENV = "UMDEV_IT_CACHE";
    public static final String PROPERTIES_FILE = "it.properties";
    /** How to provision, for messages. */
    public static final String PROVISION_COMMAND = "it/provision/provision.sh (as root)";

    public static Path cacheDirectory() {
        String configured = System.getProperty(CACHE_PROPERTY, System.getenv(CACHE_ENV));
        return configured != null && !configured.isBlank()
                ? Path.of(configured)
                : Path.of(System.getProperty("user.home"), ".cache", "umdev", "it");
    }

    /** The provisioning recorded in the cache, or empty when provision.sh never completed there. */
    public static Optional<Provisioning> load(Path cacheDirectory) throws IOException {
        Path file = cacheDirectory.resolve(PROPERTIES_FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file)) {
            properties.load(reader);
        }
        return Optional.of(new Provisioning(
                required(properties, file, "image"),
                required(properties, file, "qemu.version"),
                Path.of(required(properties, file, "guest.kernel")),
                Path.of(required(properties, file, "guest.initrd")),
                required(properties, file, "guest.kernel.release")));
    }

    /** The DPDK peer image (it/provision/dpdk.sh), if provisioning recorded one. */
    public static Optional<String> dpdkImage(Path cacheDirectory) throws IOException {
        Path file = cacheDirectory.resolve(PROPERTIES_FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file)) {
            properties.load(reader);
        }
        String image = properties.getProperty("dpdk.image");
        return image == null || image.isBlank() ? Optional.empty() : Optional.of(image.strip());
    }

    private static String required(Properties properties, Path file, String key) throws IOException {
        String value = properties.getProperty(key);
        if (value == null || value.isBlank()) {
            throw new IOException(file + " has no " + key + "; run " + PROVISION_COMMAND);
        }
        return value.strip();
    }
}

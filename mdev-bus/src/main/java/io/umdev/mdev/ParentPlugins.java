package io.umdev.mdev;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The parents found with {@link ServiceLoader}: every {@link ParentProvider} on the class path, then
 * those in the {@code *.jar} files of the plugin directories (in name order), loaded through one
 * {@link URLClassLoader}. A plugin that fails (a bad provider file, a provider that throws, a missing
 * class) is logged and skipped; so is a parent whose name an earlier one took. Close this after the bus
 * is done with the parents, to release the plugin jars.
 */
public final class ParentPlugins implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ParentPlugins.class);
    /** Bounds the walk over a provider file whose every entry fails. */
    private static final int MAX_FAILURES = 100;

    private final List<ParentDevice> parents;
    private final URLClassLoader loader;
    private final List<Path> jars;

    private ParentPlugins(List<ParentDevice> parents, URLClassLoader loader, List<Path> jars) {
        this.parents = parents;
        this.loader = loader;
        this.jars = jars;
    }

    /**
     * Finds the parents.
     *
     * @param base the class loader of the host (its class path is searched first)
     * @param pluginDirectories directories whose {@code *.jar} files are plugins; missing ones are skipped
     * @param environment handed to every provider
     */
    public static ParentPlugins load(ClassLoader base, List<Path> pluginDirectories, ParentEnvironment environment) {
        List<Path> jars = new ArrayList<>();
        for (Path directory : pluginDirectories) {
            jars.addAll(jarsIn(directory));
        }
        List<URL> urls = new ArrayList<>();
        for (Path jar : jars) {
            try {
                urls.add(jar.toUri().toURL());
            } catch (MalformedURLException e) {
                LOG.warn("skipping plugin {}: {}", jar, e.getMessage());
            }
        }
        URLClassLoader loader = new URLClassLoader("umdev-plugins", urls.toArray(URL[]::new), base);
        Map<String, ParentDevice> found = new LinkedHashMap<>();
        Iterator<ServiceLoader.Provider<ParentProvider>> providers =
                ServiceLoader.load(ParentProvider.class, loader).stream().iterator();
        int failures = 0;
        while (failures < MAX_FAILURES) {
            ServiceLoader.Provider<ParentProvider> provider;
            try {
                if (!providers.hasNext()) {
                    break;
                }
                provider = providers.next();
            } catch (ServiceConfigurationError | LinkageError e) {
                failures++;
                LOG.warn("skipping a parent plugin that cannot be loaded: {}", describe(e));
                continue;
            }
            String where = provider.type().getName() + " (" + origin(provider.type()) + ")";
            List<ParentDevice> offered;
            try {
                offered = List.copyOf(provider.get().parents(environment));
            } catch (ServiceConfigurationError | RuntimeException | LinkageError e) {
                failures++;
                LOG.warn("skipping parent provider {}: {}", where, describe(e), e);
                continue;
            }
            if (offered.isEmpty()) {
                LOG.info("parent provider {} offers no parents on this machine", where);
            }
            for (ParentDevice parent : offered) {
                ParentDevice earlier = found.putIfAbsent(parent.name(), parent);
                if (earlier != null) {
                    LOG.warn("skipping parent {} from {}: a parent of that name came from {}", parent.name(), where,
                            origin(earlier.getClass()));
                } else {
                    LOG.info("found parent {} from {}", parent.name(), where);
                }
            }
        }
        return new ParentPlugins(List.copyOf(found.values()), loader, List.copyOf(jars));
    }

    private static List<Path> jarsIn(Path directory) {
        List<Path> jars = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory, "*.jar")) {
            for (Path jar : stream) {
                if (Files.isRegularFile(jar)) {
                    jars.add(jar.toAbsolutePath());
                }
            }
        } catch (NoSuchFileException e) {
            LOG.debug("no plugin directory {}", directory);
        } catch (IOException e) {
            LOG.warn("cannot read plugin directory {}: {}", directory, e.toString());
        }
        Collections.sort(jars);
        return jars;
    }

    private static String origin(Class<?> type) {
        var source = type.getProtectionDomain().getCodeSource();
        return source == null || source.getLocation() == null ? "built in" : source.getLocation().getPath();
    }

    private static String describe(Throwable e) {
        StringBuilder s = new StringBuilder(e.toString());
        for (Throwable cause = e.getCause(); cause != null; cause = cause.getCause()) {
            s.append("; caused by ").append(cause);
        }
        return s.toString();
    }

    /** The parents found, class path first; names are unique. */
    public List<ParentDevice> parents() {
        return parents;
    }

    /** The plugin jars that were searched. */
    public List<Path> jars() {
        return jars;
    }

    @Override
    public void close() {
        try {
            loader.close();
        } catch (IOException e) {
            LOG.warn("closing the plugin class loader: {}", e.toString());
        }
    }
}

package io.umdev.mdev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Parents found with ServiceLoader on the class path and in third-party jars of a plugin directory. */
class ParentPluginsTest {
    private static final String PROVIDER_FILE = "META-INF/services/" + ParentProvider.class.getName();

    @TempDir
    Path dir;

    private ParentEnvironment environment() {
        return new ParentEnvironment(dir.resolve("state"));
    }

    private Path examplePlugin(Path pluginDir) throws Exception {
        Files.createDirectories(pluginDir);
        return PluginJar.build(pluginDir.resolve("example.jar"), "plugin-src",
                Map.of(PROVIDER_FILE, "example.plugin.ExampleParentProvider\n"));
    }

    private static List<String> names(ParentPlugins plugins) {
        return plugins.parents().stream().map(ParentDevice::name).toList();
    }

    @Test
    void findsParentsInAThirdPartyJarThroughItsProviderFile() throws Exception {
        Path plugins = dir.resolve("plugins");
        examplePlugin(plugins);
        ClassLoader base = getClass().getClassLoader();
        assertThrows(ClassNotFoundException.class, () -> base.loadClass("example.plugin.ExampleParentProvider"),
                "the plugin is not on the test class path");

        try (ParentPlugins found = ParentPlugins.load(base, List.of(plugins), environment())) {
            assertEquals(List.of("builtin", "example-b", "example-a"), names(found),
                    "class path first; the jar's example-b loses to the class path's");
            ParentDevice example = found.parents().get(2);
            assertNotSame(base, example.getClass().getClassLoader());
            assertSame(TestParent.class, found.parents().get(1).getClass());
            assertEquals(List.of(plugins.resolve("example.jar").toAbsolutePath()), found.jars());

            try (MdevBus bus = new MdevBus()) {
                bus.addParent(example);
                MdevInstance instance = bus.create(CreateRequest.of("example-a", "widget"));
                assertEquals(DeviceApi.of("example-api"), instance.deviceApi());
                assertEquals(1, bus.availableInstances("example-a", "widget"));
            }
        }
    }

    @Test
    void aBrokenPluginIsSkippedAndTheOthersStillLoad() throws Exception {
        Path plugins = dir.resolve("plugins");
        examplePlugin(plugins);
        PluginJar.entriesOnly(plugins.resolve("a-missing-class.jar"), Map.of(PROVIDER_FILE, "no.such.Provider\n"));
        PluginJar.entriesOnly(plugins.resolve("b-not-a-provider.jar"), Map.of(PROVIDER_FILE, "java.lang.String\n"));
        Files.writeString(plugins.resolve("c-not-a-jar.jar"), "this is not a zip file");

        try (ParentPlugins found = ParentPlugins.load(getClass().getClassLoader(), List.of(plugins), environment())) {
            assertEquals(List.of("builtin", "example-b", "example-a"), names(found));
        }
    }

    @Test
    void aMissingPluginDirectoryLeavesTheClassPathParents() {
        try (ParentPlugins found = ParentPlugins.load(getClass().getClassLoader(), List.of(dir.resolve("none")),
                environment())) {
            assertEquals(List.of("builtin", "example-b"), names(found));
            assertTrue(found.jars().isEmpty());
        }
    }
}

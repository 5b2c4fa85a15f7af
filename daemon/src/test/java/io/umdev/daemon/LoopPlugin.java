package io.umdev.daemon;

import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * The "loop" parent plugin of the tests, built the way a third party would ship it: the source in
 * {@code src/test/resources/plugin-src} compiled against umdev's class path into a jar with a
 * {@code META-INF/services} provider file. Its classes are never on the test class path.
 */
public final class LoopPlugin {
    public static final String PARENT = "loop";
    private static final String PROVIDER = "example.loop.LoopParentProvider";
    private static Path built;

    private LoopPlugin() {
    }

    /** The class path of this test JVM (the real one, also under surefire's manifest-only jar). */
    public static String testClassPath() {
        String surefire = System.getProperty("surefire.test.class.path");
        return surefire != null && !surefire.isBlank() ? surefire : System.getProperty("java.class.path");
    }

    /** Copies the plugin jar (built once per JVM) into {@code pluginDir}. */
    public static synchronized Path installInto(Path pluginDir) throws IOException {
        if (built == null) {
            built = build();
        }
        Files.createDirectories(pluginDir);
        return Files.copy(built, pluginDir.resolve("loop-plugin.jar"), StandardCopyOption.REPLACE_EXISTING);
    }

    private static Path build() throws IOException {
        Path work = Files.createTempDirectory("loop-plugin");
        Path classes = Files.createDirectory(work.resolve("classes"));
        Path sources = resource("plugin-src");
        List<String> files;
        try (Stream<Path> walk = Files.walk(sources)) {
            files = walk.filter(p -> p.toString().endsWith(".java")).map(Path::toString).toList();
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StringWriter output = new StringWriter();
        List<String> options = List.of("-d", classes.toString(), "-cp", testClassPath(), "-proc:none",
                "--release", String.valueOf(Runtime.version().feature()));
        boolean ok = javac.getTask(output, null, null, options, null,
                javac.getStandardFileManager(null, null, StandardCharsets.UTF_8).getJavaFileObjectsFromStrings(files))
                .call();
        if (!ok) {
            throw new IOException("compiling the loop plugin failed:\n" + output);
        }
        Path jar = work.resolve("loop-plugin.jar");
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream jarOut = new JarOutputStream(out);
                Stream<Path> walk = Files.walk(classes)) {
            for (Path file : walk.filter(Files::isRegularFile).sorted().toList()) {
                jarOut.putNextEntry(new JarEntry(classes.relativize(file).toString().replace('\\', '/')));
                jarOut.write(Files.readAllBytes(file));
                jarOut.closeEntry();
            }
            jarOut.putNextEntry(new JarEntry("META-INF/services/io.umdev.mdev.ParentProvider"));
            jarOut.write((PROVIDER + "\n").getBytes(StandardCharsets.UTF_8));
            jarOut.closeEntry();
        }
        return jar;
    }

    private static Path resource(String name) throws IOException {
        URL url = LoopPlugin.class.getClassLoader().getResource(name);
        if (url == null) {
            throw new IOException("no test resource " + name);
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IOException(e);
        }
    }
}

package io.umdev.mdev;

import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/** Builds a plugin jar the way a third party would: compiled sources plus a provider file. */
final class PluginJar {
    private PluginJar() {
    }

    /** The class path of this test JVM, as the compiler of a plugin would need it. */
    static String testClassPath() {
        String surefire = System.getProperty("surefire.test.class.path");
        return surefire != null && !surefire.isBlank() ? surefire : System.getProperty("java.class.path");
    }

    /**
     * Compiles every {@code .java} file under the test resource directory {@code sourceRoot} and writes
     * the classes, plus {@code extraEntries} (path to text), into {@code jar}.
     */
    static Path build(Path jar, String sourceRoot, Map<String, String> extraEntries) throws IOException {
        Path sources = resource(sourceRoot);
        Path classes = Files.createTempDirectory(jar.getParent(), "classes");
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
            throw new IOException("compiling the plugin failed:\n" + output);
        }
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream jarOut = new JarOutputStream(out);
                Stream<Path> walk = Files.walk(classes)) {
            for (Path file : walk.filter(Files::isRegularFile).sorted().toList()) {
                jarOut.putNextEntry(new JarEntry(classes.relativize(file).toString().replace('\\', '/')));
                jarOut.write(Files.readAllBytes(file));
                jarOut.closeEntry();
            }
            for (Map.Entry<String, String> e : extraEntries.entrySet()) {
                jarOut.putNextEntry(new JarEntry(e.getKey()));
                jarOut.write(e.getValue().getBytes(StandardCharsets.UTF_8));
                jarOut.closeEntry();
            }
        }
        return jar;
    }

    /** A jar holding only the given entries. */
    static Path entriesOnly(Path jar, Map<String, String> entries) throws IOException {
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream jarOut = new JarOutputStream(out)) {
            for (Map.Entry<String, String> e : entries.entrySet()) {
                jarOut.putNextEntry(new JarEntry(e.getKey()));
                jarOut.write(e.getValue().getBytes(StandardCharsets.UTF_8));
                jarOut.closeEntry();
            }
        }
        return jar;
    }

    private static Path resource(String name) throws IOException {
        URL url = PluginJar.class.getClassLoader().getResource(name);
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

package io.umdev.it;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * One QEMU guest, fully decided: what {@link QemuGuest} builds and {@link RunningGuest} runs.
 * Host paths are bind-mounted at the same path inside the container, so every path means the same on
 * both sides (a vfio-user socket path is the same string for the server and for QEMU).
 */
record GuestSpec(
        String name,
        String image,
        Accel accel,
        Duration timeout,
        List<String> commandLine,
        Set<Path> writableBinds,
        Set<Path> readOnlyBinds,
        Path logDirectory) {

    private static final Pattern SHELL_SAFE = Pattern.compile("[A-Za-z0-9_@%+=:,./-]+");

    GuestSpec {
        commandLine = List.copyOf(commandLine);
        writableBinds = Set.copyOf(writableBinds);
        readOnlyBinds = Set.copyOf(readOnlyBinds);
    }

    /** The same run as a docker command line, to reproduce it by hand. */
    String reproduction() {
        List<String> command = new ArrayList<>(List.of("docker", "run", "--rm", "--pull", "never", "--network", "none"));
        if (accel == Accel.KVM) {
            command.addAll(List.of("--device", Accel.KVM_DEVICE.toString()));
        }
        readOnlyBinds.stream().sorted().forEach(path -> command.addAll(List.of("-v", path + ":" + path + ":ro")));
        writableBinds.stream().sorted().forEach(path -> command.addAll(List.of("-v", path + ":" + path)));
        command.add(image);
        command.addAll(commandLine);
        return command.stream().map(GuestSpec::shellQuote).collect(Collectors.joining(" "));
    }

    private static String shellQuote(String word) {
        return SHELL_SAFE.matcher(word).matches() ? word : "'" + word.replace("'", "'\\''") + "'";
    }
}

package io.umdev.it;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * A {@code vfio-user-pci} device whose server listens on a Unix socket on the host. The socket's directory
 * is bind-mounted into the QEMU container at the same path, so the path means the same on both sides.
 *
 * @param socket     the server's socket path on the host (it may appear after the guest is configured)
 * @param msgTimeout how long QEMU waits for each reply ({@code x-msg-timeout}); empty keeps QEMU's 5 s
 */
public record VfioUserDevice(Path socket, Optional<Duration> msgTimeout) {

    public VfioUserDevice {
        socket = socket.toAbsolutePath();
    }

    public static VfioUserDevice at(Path socket) {
        return new VfioUserDevice(socket, Optional.empty());
    }

    public VfioUserDevice withMsgTimeout(Duration timeout) {
        return new VfioUserDevice(socket, Optional.of(timeout));
    }

    /** The {@code -device} JSON for QEMU. */
    String deviceJson(String id) {
        StringBuilder json = new StringBuilder("{\"driver\":\"vfio-user-pci\",\"id\":").append(Json.quote(id))
                .append(",\"socket\":{\"type\":\"unix\",\"path\":").append(Json.quote(socket.toString())).append('}');
        msgTimeout.ifPresent(timeout -> json.append(",\"x-msg-timeout\":").append(timeout.toMillis()));
        return json.append('}').toString();
    }
}

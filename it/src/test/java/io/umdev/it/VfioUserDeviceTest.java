package io.umdev.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class VfioUserDeviceTest {

    @Test
    void deviceJsonNamesTheSocketAndOptionalMessageTimeout() {
        VfioUserDevice device = VfioUserDevice.at(Path.of("/run/umdev/blk0.sock"));

        assertEquals("{\"driver\":\"vfio-user-pci\",\"id\":\"vfio0\",\"socket\":{\"type\":\"unix\",\"path\":\"/run/umdev/blk0.sock\"}}",
                device.deviceJson("vfio0"));
        assertEquals("{\"driver\":\"vfio-user-pci\",\"id\":\"vfio1\",\"socket\":{\"type\":\"unix\",\"path\":\"/run/umdev/blk0.sock\"},"
                        + "\"x-msg-timeout\":1500}",
                device.withMsgTimeout(Duration.ofMillis(1500)).deviceJson("vfio1"));
    }

    @Test
    void socketPathIsQuotedAsJson() {
        assertEquals("{\"driver\":\"vfio-user-pci\",\"id\":\"v\",\"socket\":{\"type\":\"unix\",\"path\":\"/tmp/a\\\"b\"}}",
                VfioUserDevice.at(Path.of("/tmp/a\"b")).deviceJson("v"));
    }
}

package io.umdev.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.umdev.daemon.json.JsonFieldException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The embedded default configuration, and the strictness of a configuration file. */
class DaemonConfigurationTest {
    @Test
    void theEmbeddedDefaultAsksForABlockAndANetworkDevice() throws Exception {
        DaemonConfiguration embedded = DaemonConfiguration.embedded();
        assertEquals(List.of("sim-blk/blk", "sim-net/net"),
                embedded.instances().stream().map(e -> e.parent() + "/" + e.type()).toList());
        assertEquals(List.of("blk0", "net0"), embedded.instances().stream().map(DaemonConfiguration.Entry::label).toList());
    }

    @Test
    void anEmptyConfigurationCreatesNothing() throws Exception {
        assertEquals(List.of(), DaemonConfiguration.parse("{}", "test").instances());
        assertEquals(List.of(), DaemonConfiguration.parse("{\"instances\":[]}", "test").instances());
    }

    @Test
    void mistakesNameTheirField() {
        String uuid = "b1c00000-0000-4000-8000-000000000000";
        assertEquals("instances[0].type", assertThrows(JsonFieldException.class, () -> DaemonConfiguration.parse(
                "{\"instances\":[{\"uuid\":\"" + uuid + "\",\"parent\":\"p\"}]}", "test")).field());
        assertEquals("instances[0].colour", assertThrows(JsonFieldException.class, () -> DaemonConfiguration.parse(
                "{\"instances\":[{\"uuid\":\"" + uuid + "\",\"parent\":\"p\",\"type\":\"t\",\"colour\":1}]}", "test"))
                .field());
        assertEquals("instances[1].uuid", assertThrows(JsonFieldException.class, () -> DaemonConfiguration.parse(
                "{\"instances\":[{\"uuid\":\"" + uuid + "\",\"parent\":\"p\",\"type\":\"t\"},"
                        + "{\"uuid\":\"" + uuid + "\",\"parent\":\"p\",\"type\":\"t\"}]}", "test")).field());
        assertEquals("devices", assertThrows(JsonFieldException.class,
                () -> DaemonConfiguration.parse("{\"devices\":[]}", "test")).field());
    }
}

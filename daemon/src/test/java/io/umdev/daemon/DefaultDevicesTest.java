package io.umdev.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.umdev.daemon.cli.Umdevctl;
import io.umdev.daemon.json.Json;
import io.umdev.emudev.pci.PciRegisters;
import io.umdev.emudev.vfiouser.VfioUserAdapter;
import io.umdev.vfiouser.client.VfioUserClient;
import io.umdev.virtio.pci.VirtioPciLayout;
import io.umdev.virtio.spec.VirtioId;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon with its embedded default configuration, in this JVM: the sim-blk and sim-net parents are
 * installed, the virtio-pci driver binds both instances and serves them on {@code blk0.sock} and
 * {@code net0.sock} in the run directory; {@code umdevctl show} prints the socket and a QEMU command line.
 */
class DefaultDevicesTest {
    private static final String BLK0 = "b1c00000-0000-4000-8000-000000000000";
    private static final String NET0 = "7e700000-0000-4000-8000-000000000000";
    private static final long BLK0_BYTES = 256L << 20;

    @TempDir
    Path dir;

    private static int configWord(VfioUserClient client, int offset) throws Exception {
        MemorySegment s = client.regionRead(VfioUserAdapter.CONFIG_REGION, offset, Short.BYTES);
        return Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
    }

    private JsonNode show(Path state, Path run, String uuid) throws Exception {
        StringWriter out = new StringWriter();
        var commandLine = Umdevctl.commandLine();
        commandLine.setOut(new PrintWriter(out));
        commandLine.setErr(new PrintWriter(new StringWriter()));
        int exit = commandLine.execute("--run-dir", run.toString(), "--state-dir", state.toString(), "show", "-u", uuid,
                "--json");
        assertEquals(0, exit, out::toString);
        return Json.parse(out.toString());
    }

    @Test
    void theDefaultConfigurationServesBlk0AndNet0AsVirtioPciFunctionsOnSocketsNamedAfterTheirLabels() throws Exception {
        Path state = dir.resolve("state");
        Path run = dir.resolve("run");
        DaemonOptions options = new DaemonOptions(state, run, List.of(UmdevPaths.plugins(state)), 64);
        try (Daemon daemon = DaggerDaemonComponent.factory().create(options, DaemonConfiguration.embedded()).daemon()) {
            daemon.start();
            Path blk0 = run.resolve("blk0.sock");
            Path net0 = run.resolve("net0.sock");
            assertTrue(Files.exists(blk0) && Files.exists(net0), "both sockets are in the run directory");
            Path image = state.resolve("blk0.img");
            assertEquals(BLK0_BYTES, Files.size(image), "blk0 is file-backed in the state directory");

            try (VfioUserClient client = VfioUserClient.connect(blk0)) {
                assertEquals(VirtioId.PCI_VENDOR, configWord(client, PciRegisters.VENDOR_ID));
                assertEquals(VirtioPciLayout.deviceId(VirtioId.BLOCK), configWord(client, PciRegisters.DEVICE_ID));
            }
            try (VfioUserClient client = VfioUserClient.connect(net0)) {
                assertEquals(VirtioPciLayout.deviceId(VirtioId.NET), configWord(client, PciRegisters.DEVICE_ID));
            }

            JsonNode shown = show(state, run, BLK0).path("instance");
            assertEquals("virtio-pci", shown.path("driver").asText());
            assertEquals(blk0.toString(), shown.path("socket").asText());
            String qemu = shown.path("qemu").asText();
            assertTrue(qemu.contains("\"driver\":\"vfio-user-pci\"") && qemu.contains(blk0.toString())
                    && qemu.contains("memory-backend-memfd") && qemu.contains("share=on"), qemu);
            assertEquals(net0.toString(), show(state, run, NET0).path("instance").path("socket").asText());
        }
        assertFalse(Files.exists(run.resolve("blk0.sock")), "unbinding removes the socket");
        assertFalse(Files.exists(run.resolve("net0.sock")));
    }
}

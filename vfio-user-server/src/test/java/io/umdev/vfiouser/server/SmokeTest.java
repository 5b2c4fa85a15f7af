package io.umdev.vfiouser.server;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.client.VfioUserClient;
import io.umdev.vfiouser.protocol.DmaMapPayload;
import io.umdev.vfiouser.testing.ScratchDevice;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SmokeTest {
    @TempDir
    Path dir;

    @Test
    void roundTrips() throws Exception {
        try (ScratchDevice device = new ScratchDevice();
                VfioUserServer server = VfioUserServer.start(dir.resolve("s.sock"), device, ServerOptions.defaults());
                VfioUserClient client = VfioUserClient.connect(server.socketPath())) {
            assertEquals(9, client.deviceInfo().numRegions());
            MemorySegment v = MemorySegment.ofArray(new byte[8]);
            v.set(JAVA_LONG_UNALIGNED, 0, 42L);
            client.regionWrite(0, 0x40, v);
            assertEquals(42L, client.regionRead(0, 0x40, 8).get(JAVA_LONG_UNALIGNED, 0));
            try (OwnedFd ram = Memfd.create("ram", 1 << 20); MappedMemory local = MappedMemory.map(ram, 0, 1 << 20, true)) {
                client.dmaMap(0x100000, 1 << 20, DmaMapPayload.FLAG_READ | DmaMapPayload.FLAG_WRITE, ram, 0, local.segment());
                local.segment().set(JAVA_LONG_UNALIGNED, 0, 0x1122L);
                long[] regs = {0x100000, 0x100000 + 4096, 8};
                for (int i = 0; i < 3; i++) {
                    v.set(JAVA_LONG_UNALIGNED, 0, regs[i]);
                    client.regionWrite(0, i * 8, v);
                }
                v.set(JAVA_LONG_UNALIGNED, 0, ScratchDevice.GO_INLINE);
                client.regionWrite(0, ScratchDevice.REG_GO, v);
                assertEquals(0, device.lastStatus());
                assertEquals(0x1122L, local.segment().get(JAVA_LONG_UNALIGNED, 4096));
            }
            MemorySegment msgRam = MemorySegment.ofArray(new byte[8192]);
            msgRam.set(JAVA_LONG_UNALIGNED, 16, 0x7777L);
            client.dmaMap(0x900000, 8192, DmaMapPayload.FLAG_READ | DmaMapPayload.FLAG_WRITE, null, 0, msgRam);
            long[] regs = {0x900000 + 16, 0x900000 + 4096, 8};
            for (int i = 0; i < 3; i++) {
                v.set(JAVA_LONG_UNALIGNED, 0, regs[i]);
                client.regionWrite(0, i * 8, v);
            }
            v.set(JAVA_LONG_UNALIGNED, 0, ScratchDevice.GO_INLINE);
            client.regionWrite(0, ScratchDevice.REG_GO, v);
            assertEquals(0, device.lastStatus());
            assertEquals(0x7777L, msgRam.get(JAVA_LONG_UNALIGNED, 4096));
        }
    }
}

package io.umdev.vhost;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.mdev.CreateRequest;
import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.InstanceContext;
import io.umdev.mdev.MdevBus;
import io.umdev.mdev.MdevDevice;
import io.umdev.mdev.MdevDriver;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevInstance;
import io.umdev.mdev.MdevType;
import io.umdev.mdev.ParentDevice;
import io.umdev.vhost.protocol.Request;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The driver on a real bus: binds only instances that ask for it, serves a socket per instance, lets go on unbind. */
class VhostMdevDriverTest {
    private static final int QUEUE_SIZE = 64;

    /** A parent of echo devices. */
    private static final class EchoParent implements ParentDevice {
        @Override
        public String name() {
            return "echo";
        }

        @Override
        public List<MdevType> types() {
            return List.of(MdevType.of("echo", "echo device", DeviceApi.VIRTIO, MdevType.UNLIMITED));
        }

        @Override
        public MdevDevice create(InstanceContext context) {
            return new EchoDevice(context.dmaTable(), QUEUE_SIZE);
        }

        @Override
        public void remove(MdevDevice device) {
            ((EchoDevice) device).close();
        }
    }

    /** Stands for the default driver: binds whatever reaches it. */
    private static final class DefaultDriver implements MdevDriver {
        @Override
        public String name() {
            return "default";
        }

        @Override
        public Set<DeviceApi> deviceApis() {
            return Set.of(DeviceApi.VIRTIO);
        }

        @Override
        public void probe(MdevInstance instance) {
        }

        @Override
        public void remove(MdevInstance instance) {
        }
    }

    @Test
    void bindsOnlyInstancesWhoseOverrideNamesItAndServesEachOnItsOwnSocket(@TempDir Path run) throws Exception {
        VhostMdevDriver vhost = new VhostMdevDriver(run);
        try (MdevBus bus = new MdevBus()) {
            bus.addParent(new EchoParent());
            bus.addDriver(vhost);
            bus.addDriver(new DefaultDriver());
            MdevInstance plain = bus.create(CreateRequest.of("echo", "echo"));
            MdevInstance served = bus.create(CreateRequest.of("echo", "echo").withDriverOverride(VhostMdevDriver.NAME));

            assertEquals("default", plain.driver().orElseThrow().name());
            assertFalse(Files.exists(vhost.socketPath(plain.uuid())));
            assertEquals(VhostMdevDriver.NAME, served.driver().orElseThrow().name());
            Path socket = vhost.socketPath(served.uuid());
            assertEquals(run.resolve(served.uuid() + ".vhost.sock"), socket);
            assertTrue(Files.exists(socket));

            Map<String, String> endpoint = vhost.endpoint(served);
            assertEquals(socket.toString(), endpoint.get("vhost-user socket"));
            assertTrue(endpoint.get("qemu").contains("path=" + socket), endpoint::toString);

            try (TestFrontend f = new TestFrontend(socket)) {
                f.negotiate(0, 0);
                assertEquals(EchoDevice.QUEUES, f.getU64(Request.GET_QUEUE_NUM));
            }

            bus.unbind(served.uuid());
            assertFalse(Files.exists(socket), "unbinding closed the socket");
            assertTrue(vhost.server(served.uuid()).isEmpty());
        } catch (MdevException e) {
            throw new AssertionError(e);
        }
    }
}

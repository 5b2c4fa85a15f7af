package io.umdev.it;

import io.umdev.mdev.CreateRequest;
import io.umdev.mdev.MdevBus;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevInstance;
import io.umdev.mdev.ParentEnvironment;
import io.umdev.mdev.ParentProvider;
import io.umdev.vhost.VhostMdevDriver;
import io.umdev.vhost.VhostUserServer;
import java.nio.file.Path;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * umdev in the test JVM for the vhost-user ITs: a bus with the parents found on the class path (sim-blk,
 * sim-net) and the vhost driver serving sockets in {@code runDir}, which the fixture bind-mounts into QEMU's
 * container at the same path.
 */
final class VhostBackends implements AutoCloseable {
    final MdevBus bus = new MdevBus();
    final VhostMdevDriver driver;

    VhostBackends(Path runDir, Path stateDir) throws MdevException {
        driver = new VhostMdevDriver(runDir);
        for (ParentProvider provider : ServiceLoader.load(ParentProvider.class)) {
            for (var parent : provider.parents(new ParentEnvironment(stateDir))) {
                bus.addParent(parent);
            }
        }
        bus.addDriver(driver);
    }

    /** Creates an instance bound to the vhost driver. */
    MdevInstance create(String parent, String type, Map<String, String> attributes) throws MdevException {
        CreateRequest request = CreateRequest.of(parent, type).withDriverOverride(VhostMdevDriver.NAME);
        for (var e : attributes.entrySet()) {
            request = request.withAttribute(e.getKey(), e.getValue());
        }
        return bus.create(request);
    }

    Path socket(MdevInstance instance) {
        return driver.socketPath(instance.uuid());
    }

    VhostUserServer server(MdevInstance instance) {
        return driver.server(instance.uuid()).orElseThrow();
    }

    @Override
    public void close() {
        bus.close();
    }
}

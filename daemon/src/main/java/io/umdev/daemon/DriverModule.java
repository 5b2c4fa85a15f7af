package io.umdev.daemon;

import dagger.Module;
import dagger.Provides;
import dagger.multibindings.IntoSet;
import dagger.multibindings.Multibinds;
import io.umdev.mdev.MdevDriver;
import io.umdev.vfiouser.server.ServerOptions;
import io.umdev.virtio.driver.VirtioInprocDriver;
import io.umdev.virtio.pci.VirtioPciDriver;
import jakarta.inject.Singleton;
import java.util.Set;

/**
 * The drivers the daemon registers on the bus, in the order given here (which is the order matching
 * tries them). Each driver's issue adds one {@code @Provides @IntoSet} method.
 */
@Module
public interface DriverModule {
    @Multibinds
    Set<MdevDriver> drivers();

    /**
     * virtio-pci over vfio-user, the default driver of virtio instances: sockets in the run directory,
     * named after the configuration's label of an instance, else its UUID.
     */
    @Provides
    @Singleton
    static VirtioPciDriver virtioPci(DaemonOptions options, DaemonConfiguration configuration) {
        return new VirtioPciDriver(options.runDir(), instance -> configuration.label(instance.uuid()).orElse(null),
                ServerOptions.defaults());
    }

    @Provides
    @IntoSet
    static MdevDriver virtioPciDriver(VirtioPciDriver driver) {
        return driver;
    }

    /** The in-process driver: binds only instances whose driver override names it. */
    @Provides
    @IntoSet
    static MdevDriver virtioInproc() {
        return new VirtioInprocDriver();
    }
}

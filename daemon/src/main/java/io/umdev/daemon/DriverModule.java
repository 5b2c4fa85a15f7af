package io.umdev.daemon;

import dagger.Module;
import dagger.Provides;
import dagger.multibindings.IntoSet;
import dagger.multibindings.Multibinds;
import io.umdev.mdev.MdevDriver;
import io.umdev.vhost.VhostMdevDriver;
import java.util.Set;

/**
 * The drivers the daemon registers on the bus, in the order given here (which is the order matching
 * tries them). Each driver's issue adds one provider.
 */
@Module
public interface DriverModule {
    @Multibinds
    Set<MdevDriver> drivers();

    /** vhost-user backends, for instances whose driver override is {@value VhostMdevDriver#NAME}; sockets in the run dir. */
    @Provides
    @IntoSet
    static MdevDriver vhost(DaemonOptions options) {
        return new VhostMdevDriver(options.runDir());
    }
}

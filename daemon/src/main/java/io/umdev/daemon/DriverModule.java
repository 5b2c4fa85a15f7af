package io.umdev.daemon;

import dagger.Module;
import dagger.multibindings.Multibinds;
import io.umdev.mdev.MdevDriver;
import java.util.Set;

/**
 * The drivers the daemon registers on the bus, in the order given here (which is the order matching
 * tries them). None exist yet; each driver's issue adds one line, e.g.
 *
 * <pre>{@code
 * @Provides @IntoSet static MdevDriver vhost(VhostMdevDriver driver) { return driver; }
 * }</pre>
 */
@Module
public interface DriverModule {
    @Multibinds
    Set<MdevDriver> drivers();
}

package io.umdev.daemon;

import dagger.Module;
import dagger.Provides;
import io.umdev.daemon.definition.DefinitionStore;
import io.umdev.mdev.MdevBus;
import io.umdev.mdev.ParentEnvironment;
import io.umdev.mdev.ParentPlugins;
import jakarta.inject.Singleton;

/** The bus, the parents found by ServiceLoader, and the definitions. */
@Module
public final class DaemonModule {
    private DaemonModule() {
    }

    @Provides
    @Singleton
    static MdevBus bus(DaemonOptions options) {
        return new MdevBus(options.dmaMappings());
    }

    @Provides
    @Singleton
    static ParentPlugins parents(DaemonOptions options) {
        return ParentPlugins.load(DaemonModule.class.getClassLoader(), options.pluginDirs(),
                new ParentEnvironment(UmdevPaths.parents(options.stateDir())));
    }

    @Provides
    @Singleton
    static DefinitionStore definitions(DaemonOptions options) {
        return new DefinitionStore(options.definitionsDir());
    }
}

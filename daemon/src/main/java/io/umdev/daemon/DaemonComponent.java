package io.umdev.daemon;

import dagger.BindsInstance;
import dagger.Component;
import jakarta.inject.Singleton;

/** The composition root: the one place that knows every part of umdev. */
@Singleton
@Component(modules = {DaemonModule.class, DriverModule.class})
public interface DaemonComponent {
    Daemon daemon();

    @Component.Factory
    interface Factory {
        DaemonComponent create(@BindsInstance DaemonOptions options, @BindsInstance DaemonConfiguration configuration);
    }
}

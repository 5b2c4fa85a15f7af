package io.umdev.simnet;

import io.umdev.mdev.ParentDevice;
import io.umdev.mdev.ParentEnvironment;
import io.umdev.mdev.ParentProvider;
import java.util.List;

/** The ServiceLoader entry point: offers the {@code sim-net} parent. */
public final class SimNetProvider implements ParentProvider {
    @Override
    public List<ParentDevice> parents(ParentEnvironment environment) {
        return List.of(new SimNetParent());
    }
}

package io.umdev.simblk;

import io.umdev.mdev.ParentDevice;
import io.umdev.mdev.ParentEnvironment;
import io.umdev.mdev.ParentProvider;
import java.util.List;

/** The ServiceLoader entry: offers the one {@code sim-blk} parent on every machine. */
public final class SimBlkProvider implements ParentProvider {
    @Override
    public List<ParentDevice> parents(ParentEnvironment environment) {
        return List.of(new SimBlkParent());
    }
}

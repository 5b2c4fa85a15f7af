package io.umdev.mdev;

import java.util.List;

/**
 * A provider on the test class path (named in the test resources' provider file): one parent of its
 * own, and one whose name the plugin jar of {@link ParentPluginsTest} also uses.
 */
public final class ClassPathTestProvider implements ParentProvider {
    @Override
    public List<ParentDevice> parents(ParentEnvironment environment) {
        return List.of(new TestParent("builtin", TestParent.PCI), new TestParent("example-b", TestParent.PCI));
    }
}

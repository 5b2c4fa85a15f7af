package example.plugin;

import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.InstanceContext;
import io.umdev.mdev.MdevDevice;
import io.umdev.mdev.MdevType;
import io.umdev.mdev.ParentDevice;
import io.umdev.mdev.ParentEnvironment;
import io.umdev.mdev.ParentProvider;
import java.util.List;

/**
 * A third-party parent plugin, compiled by ParentPluginsTest into a jar of its own: the class path of
 * the test never sees this class.
 */
public final class ExampleParentProvider implements ParentProvider {
    @Override
    public List<ParentDevice> parents(ParentEnvironment environment) {
        return List.of(new ExampleParent("example-a"), new ExampleParent("example-b"));
    }

    static final class ExampleParent implements ParentDevice {
        private final String name;

        ExampleParent(String name) {
            this.name = name;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public List<MdevType> types() {
            return List.of(MdevType.of("widget", "an example widget", DeviceApi.of("example-api"), 2));
        }

        @Override
        public MdevDevice create(InstanceContext context) {
            return () -> DeviceApi.of("example-api");
        }

        @Override
        public void remove(MdevDevice device) {
        }
    }
}

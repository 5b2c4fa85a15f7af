package example.loop;

import io.umdev.mdev.AttributeSpec;
import io.umdev.mdev.Attributes;
import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.InstanceContext;
import io.umdev.mdev.MdevDevice;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevType;
import io.umdev.mdev.ParentDevice;
import io.umdev.mdev.ParentEnvironment;
import io.umdev.mdev.ParentProvider;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A third-party parent plugin for the daemon's integration test. The test compiles this file into a
 * jar with a provider file and drops it in the daemon's plugin directory: the daemon finds it with
 * ServiceLoader, nothing else registers it. Parent "loop" offers:
 * <ul>
 *   <li>{@code net} (virtio, 4 instances): mac, mtu (changeable while running), max_vqp;</li>
 *   <li>{@code blk} (virtio, 2 instances): capacity, mode (ram|file), backing; refuses mode=file
 *       without a backing file (in {@code validate}, so a definition is refused too).</li>
 * </ul>
 */
public final class LoopParentProvider implements ParentProvider {
    @Override
    public List<ParentDevice> parents(ParentEnvironment environment) {
        return List.of(new LoopParent());
    }

    static final class LoopParent implements ParentDevice {
        static final MdevType NET = new MdevType("net", "a loopback network device", DeviceApi.VIRTIO, 4, List.of(
                AttributeSpec.mac("mac", "station address"),
                AttributeSpec.integer("mtu", "MTU in bytes").withRange(68, 65535).withDefault("1500"),
                AttributeSpec.integer("max_vqp", "queue pairs").withRange(1, 8).withDefault("1")));
        static final MdevType BLK = new MdevType("blk", "a RAM or file disk", DeviceApi.VIRTIO, 2, List.of(
                AttributeSpec.size("capacity", "disk size").withRange(512, 1L << 40).withMultipleOf(512)
                        .withDefault("64M"),
                AttributeSpec.choice("mode", "where the data lives", List.of("ram", "file")).withDefault("ram"),
                AttributeSpec.path("backing", "backing file, for mode=file")));

        @Override
        public String name() {
            return "loop";
        }

        @Override
        public List<MdevType> types() {
            return List.of(NET, BLK);
        }

        @Override
        public void validate(MdevType type, Attributes a) throws MdevException {
            if (type == BLK && a.getString("mode").equals("file") && a.get("backing", Path.class).isEmpty()) {
                throw MdevException.invalid("attrs.backing", "parent loop needs a backing file for mode=file; "
                        + "give backing=/path/to/file or use mode=ram");
            }
        }

        @Override
        public MdevDevice create(InstanceContext context) {
            return new LoopDevice(context);
        }

        @Override
        public void remove(MdevDevice device) {
        }

        @Override
        public void update(MdevDevice device, Attributes attributes) throws MdevException {
            LoopDevice loop = (LoopDevice) device;
            for (String name : List.of("mac", "max_vqp", "capacity", "mode", "backing")) {
                if (!Objects.equals(loop.attributes.value(name), attributes.value(name))) {
                    throw MdevException.unsupported("attrs." + name, "parent loop cannot change " + name
                            + " of a running instance; only mtu");
                }
            }
            loop.attributes = attributes;
        }
    }

    static final class LoopDevice implements MdevDevice {
        volatile Attributes attributes;
        final long createdAt = System.currentTimeMillis();

        LoopDevice(InstanceContext context) {
            this.attributes = context.attributes();
        }

        @Override
        public DeviceApi deviceApi() {
            return DeviceApi.VIRTIO;
        }

        @Override
        public Map<String, Long> statistics() {
            Map<String, Long> stats = new LinkedHashMap<>();
            stats.put("created_at_ms", createdAt);
            stats.put("packets", 0L);
            return stats;
        }
    }
}

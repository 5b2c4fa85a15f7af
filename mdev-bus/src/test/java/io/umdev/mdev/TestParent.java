package io.umdev.mdev;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/** A parent for tests: records what it is asked, refuses or crashes on demand. */
final class TestParent implements ParentDevice {
    static final MdevType NET = new MdevType("net", "a test network device", DeviceApi.VIRTIO, 4, List.of(
            AttributeSpec.mac("mac", "station address"),
            AttributeSpec.integer("mtu", "MTU in bytes").withRange(68, 65535).withDefault("1500"),
            AttributeSpec.integer("max_vqp", "queue pairs").withRange(1, 16).withDefault("1")));
    static final MdevType PCI = MdevType.of("pci", "a ready emulated PCI device", DeviceApi.VFIO_PCI,
            MdevType.UNLIMITED);

    private final String name;
    private final List<MdevType> types;
    /** What happened, in order: "create UUID", "remove UUID", "update UUID". */
    final List<String> log = new CopyOnWriteArrayList<>();
    final List<TestDevice> live = new CopyOnWriteArrayList<>();
    volatile MdevException refuseWith;
    volatile RuntimeException crashWith;
    volatile DeviceApi answerWithApi;
    volatile boolean acceptUpdates;
    /** Runs inside create, with the context, before the parent decides (e.g. to map DMA memory). */
    volatile CreateHook hook;

    interface CreateHook {
        void run(InstanceContext context) throws Exception;
    }

    TestParent(String name, MdevType... types) {
        this.name = name;
        this.types = List.of(types);
    }

    TestParent() {
        this("test", NET, PCI);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<MdevType> types() {
        return types;
    }

    /** Its one combination rule: an odd max_vqp needs an MTU of at least 1280. */
    @Override
    public void validate(MdevType type, Attributes attributes) throws MdevException {
        if (type == NET && attributes.getLong("max_vqp") % 2 == 1 && attributes.getLong("max_vqp") > 1
                && attributes.getLong("mtu") < 1280) {
            throw MdevException.invalid("attrs.max_vqp", "an odd max_vqp above 1 needs mtu >= 1280");
        }
    }

    @Override
    public MdevDevice create(InstanceContext context) throws MdevException {
        log.add("create " + context.uuid());
        CreateHook h = hook;
        if (h != null) {
            try {
                h.run(context);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        if (refuseWith != null) {
            throw refuseWith;
        }
        if (crashWith != null) {
            throw crashWith;
        }
        DeviceApi api = answerWithApi != null ? answerWithApi : context.type().deviceApi();
        TestDevice device = new TestDevice(context, api);
        live.add(device);
        return device;
    }

    @Override
    public void remove(MdevDevice device) {
        TestDevice d = (TestDevice) device;
        log.add("remove " + d.context.uuid());
        live.remove(d);
    }

    @Override
    public void update(MdevDevice device, Attributes attributes) throws MdevException {
        if (!acceptUpdates) {
            ParentDevice.super.update(device, attributes);
        }
        TestDevice d = (TestDevice) device;
        log.add("update " + d.context.uuid());
        d.attributes = attributes;
    }

    /** The device the test parent makes; it also speaks the made-up {@link Greeter} interface. */
    static final class TestDevice implements MdevDevice, Greeter {
        final InstanceContext context;
        final DeviceApi api;
        volatile Attributes attributes;

        TestDevice(InstanceContext context, DeviceApi api) {
            this.context = context;
            this.api = api;
            this.attributes = context.attributes();
        }

        @Override
        public DeviceApi deviceApi() {
            return api;
        }

        @Override
        public String greet() {
            return "hello from " + context.uuid();
        }

        @Override
        public Map<String, Long> statistics() {
            return Map.of("greetings", 1L);
        }
    }

    /** An interface a driver might need from a device, unknown to the bus. */
    interface Greeter {
        String greet();
    }
}

package io.umdev.mdev;

import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/** A driver for tests: accepts, declines or fails probes on demand, and records them. */
final class TestDriver implements MdevDriver {
    enum Behaviour { ACCEPT, DECLINE, FAIL, CRASH }

    private final String name;
    private final Set<DeviceApi> apis;
    volatile Behaviour behaviour = Behaviour.ACCEPT;
    /** "probe UUID", "remove UUID", in order. */
    final List<String> log;

    TestDriver(String name, List<String> log, DeviceApi... apis) {
        this.name = name;
        this.apis = Set.of(apis);
        this.log = log;
    }

    TestDriver(String name, DeviceApi... apis) {
        this(name, new CopyOnWriteArrayList<>(), apis);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Set<DeviceApi> deviceApis() {
        return apis;
    }

    @Override
    public void probe(MdevInstance instance) throws MdevException {
        log.add(name + " probe " + instance.uuid());
        switch (behaviour) {
            case ACCEPT -> {
                // A real driver would now take the interface it speaks from the device.
                instance.device().unwrap(TestParent.Greeter.class).orElseThrow().greet();
            }
            case DECLINE -> throw MdevException.decline(name + " does not want it");
            case FAIL -> throw MdevException.busy(null, name + " has no room");
            case CRASH -> throw new IllegalStateException(name + " crashed");
        }
    }

    @Override
    public void remove(MdevInstance instance) {
        log.add(name + " remove " + instance.uuid());
    }
}

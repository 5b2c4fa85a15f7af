package io.umdev.simnet.l2;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The named switches of one parent: a switch comes into being when its first port attaches and goes
 * with its last, so instances naming the same switch meet on it and instances naming another never
 * see each other. Control path only.
 */
public final class Switches {
    private final Function<String, LearningSwitch> factory;
    private final Map<String, LearningSwitch> byName = new HashMap<>();

    public Switches() {
        this(LearningSwitch::new);
    }

    /** @param factory makes a switch for a name (tests pass a clock or an ageing time) */
    public Switches(Function<String, LearningSwitch> factory) {
        this.factory = factory;
    }

    /** Attaches {@code port} to the switch called {@code name}, making it if needed. */
    public synchronized LearningSwitch attach(String name, Port port) {
        LearningSwitch fabric = byName.computeIfAbsent(name, factory);
        fabric.attach(port);
        return fabric;
    }

    /** Detaches {@code port} from its switch, forgetting the switch if it was the last port. */
    public synchronized void detach(Port port) {
        LearningSwitch fabric = port.attachedTo();
        if (fabric == null) {
            return;
        }
        fabric.detach(port);
        if (fabric.portCount() == 0) {
            byName.remove(fabric.name(), fabric);
        }
    }

    /** Whether the switch called {@code name} exists and has no free port. */
    public synchronized boolean isFull(String name) {
        LearningSwitch fabric = byName.get(name);
        return fabric != null && fabric.portCount() >= LearningSwitch.MAX_PORTS;
    }

    public synchronized Optional<LearningSwitch> get(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    public synchronized int count() {
        return byName.size();
    }
}

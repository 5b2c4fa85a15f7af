package io.umdev.simnet;

import io.umdev.mdev.Attributes;
import io.umdev.mdev.DeviceApi;
import io.umdev.mdev.InstanceContext;
import io.umdev.mdev.MdevDevice;
import io.umdev.mdev.MdevException;
import io.umdev.mdev.MdevType;
import io.umdev.mdev.ParentDevice;
import io.umdev.simnet.l2.LearningSwitch;
import io.umdev.simnet.l2.Switches;
import io.umdev.virtio.transport.Polling;
import java.util.List;
import java.util.Objects;

/**
 * The {@code sim-net} parent: one type, {@code net}, whose instances are software virtio-net devices
 * that loop their frames back or meet on named learning switches. Holds the switches its instances
 * share.
 */
public final class SimNetParent implements ParentDevice {
    public static final String NAME = "sim-net";
    public static final String TYPE = "net";
    /** Instances of type net at once; each holds its mailboxes' buffers. */
    static final int MAX_INSTANCES = 1024;

    static final MdevType NET = new MdevType(TYPE, "virtio-net device: loopback or a port on a learning switch",
            DeviceApi.VIRTIO, MAX_INSTANCES, SimNetSettings.ATTRIBUTES);

    private final Switches switches;

    public SimNetParent() {
        this(new Switches());
    }

    /** @param switches the switches instances join (tests pass their own) */
    public SimNetParent(Switches switches) {
        this.switches = Objects.requireNonNull(switches, "switches");
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<MdevType> types() {
        return List.of(NET);
    }

    /** The switches this parent's instances are on. */
    public Switches switches() {
        return switches;
    }

    @Override
    public void validate(MdevType type, Attributes attributes) throws MdevException {
        if (attributes.given().containsKey(SimNetSettings.SWITCH)
                && attributes.getString(SimNetSettings.MODE).equals(SimNetSettings.Mode.LOOPBACK.label())) {
            throw MdevException.invalid("attrs." + SimNetSettings.SWITCH,
                    "a switch is joined only in mode=switch; drop switch= or set mode=switch");
        }
    }

    @Override
    public MdevDevice create(InstanceContext context) throws MdevException {
        SimNetSettings settings = SimNetSettings.of(context.uuid(), context.attributes());
        if (settings.mode() == SimNetSettings.Mode.SWITCH && switches.isFull(settings.switchName())) {
            // The bus calls one parent method at a time, so the switch cannot fill up before the attach.
            throw MdevException.noSpace("attrs." + SimNetSettings.SWITCH, "switch " + settings.switchName()
                    + " has all its " + LearningSwitch.MAX_PORTS + " ports in use; name another switch");
        }
        SimNetDevice device = new SimNetDevice(context, settings, switches);
        device.setPollLimit(Polling.limit(context.attributes()));
        return device;
    }

    /**
     * Applies new attributes to a running instance: only {@code mac} may change live (like vdpa's
     * {@code dev set mac}); the MTU, queue pairs, mode and switch shape queues and buffers made at
     * create, so a change to them is refused.
     */
    @Override
    public void update(MdevDevice device, Attributes attributes) throws MdevException {
        if (!(device instanceof SimNetDevice net)) {
            throw MdevException.invalid("attrs", "not a sim-net device: " + device);
        }
        SimNetSettings now = net.settings();
        SimNetSettings next = SimNetSettings.of(net.uuid(), attributes);
        String fixed = next.mtu() != now.mtu() ? SimNetSettings.MTU
                : next.maxQueuePairs() != now.maxQueuePairs() ? SimNetSettings.MAX_VQP
                : next.mode() != now.mode() ? SimNetSettings.MODE
                : !next.switchName().equals(now.switchName()) ? SimNetSettings.SWITCH : null;
        if (fixed != null) {
            throw MdevException.unsupported("attrs." + fixed, "only mac can change on a running sim-net instance; "
                    + "change " + fixed + " in the definition and restart the instance");
        }
        net.changeMac(next.mac());
    }

    @Override
    public void remove(MdevDevice device) {
        if (device instanceof SimNetDevice net) {
            net.close();
        }
    }
}

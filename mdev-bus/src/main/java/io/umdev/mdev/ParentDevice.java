package io.umdev.mdev;

import java.util.List;

/**
 * A parent: something that can create instances of its types, after the kernel's {@code mdev_parent}
 * and vDPA management device. A software simulator or a virtual function. Parents come from
 * {@link ParentProvider}s and are registered with an {@link MdevBus}; the bus calls them under its
 * management lock, one call at a time.
 */
public interface ParentDevice {
    /** Unique on the bus: letters, digits, '_', '-', '.', ':' (e.g. {@code sim-net}, {@code 0000:01:00.5}). */
    String name();

    /** The types offered; read once, when the parent is registered. */
    List<MdevType> types();

    /**
     * Checks a combination of attributes the type's specs cannot express (a backing file required by
     * one mode, a queue count that must be even...), without creating anything. The bus calls it before
     * {@link #create} and when a definition is validated, so a definition that could never start is
     * refused when it is written. The default accepts everything.
     *
     * @param attributes already valid one by one against the type
     * @throws MdevException EINVAL naming the attribute ({@code attrs.<name>}) to refuse
     */
    default void validate(MdevType type, Attributes attributes) throws MdevException {
    }

    /**
     * Creates the device behind a new instance. The bus has already validated the attributes, checked
     * the UUID is free and that the type has an available instance. The context's DMA table is the only
     * memory this instance's client may reach; hand it to the device's queues.
     *
     * @return a device whose {@link MdevDevice#deviceApi()} is the type's
     * @throws MdevException to refuse (e.g. EINVAL naming an attribute for a combination the parent does
     *     not support, ENOSPC when a resource beyond the type's count is exhausted). Anything else thrown
     *     is reported as a failure; either way the instance is not created
     */
    MdevDevice create(InstanceContext context) throws MdevException;

    /**
     * Releases everything {@link #create} set up for {@code device}: threads, files, memory. Cannot
     * refuse: the instance is gone from the bus whatever happens here (exceptions are logged). Called
     * after the driver, if any, has been removed.
     */
    void remove(MdevDevice device);

    /**
     * Applies new attributes to a running instance ({@code modify --live}), like vdpa's
     * {@code dev_set_attr}. {@code attributes} is the complete new set, already validated against the
     * type. The default refuses: most attributes are fixed once a device exists.
     *
     * @throws MdevException to refuse, leaving the running instance as it was
     */
    default void update(MdevDevice device, Attributes attributes) throws MdevException {
        throw MdevException.unsupported("attrs", "parent " + name() + " cannot change the attributes of a running "
                + "instance; change the definition and restart the instance instead");
    }
}

package io.umdev.emudev;

/** Subscribes to what happens to an {@link EmuDevice}. Called synchronously; keep it short. */
public interface EmuDeviceListener {
    /** The lifecycle moved from {@code from} to {@code to}. */
    default void stateChanged(EmuDevice device, EmuDevice.State from, EmuDevice.State to) {
    }

    /** The device was reset (by its client, or because its client left). */
    default void reset(EmuDevice device) {
    }

    /** A named attribute changed. */
    default void attributeChanged(EmuDevice device, String name, String value) {
    }
}

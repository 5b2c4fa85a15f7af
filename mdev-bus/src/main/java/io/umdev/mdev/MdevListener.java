package io.umdev.mdev;

/**
 * Receives the bus's events. Called on the thread that made the change, after the bus has released
 * its management lock, one event at a time and in order. A listener may call back into the bus (its
 * events then follow the current one). What a listener throws is logged and otherwise ignored.
 */
@FunctionalInterface
public interface MdevListener {
    void onEvent(MdevEvent event);
}

package io.umdev.virtio.driver;

/** How the driver learns that the device used buffers. */
public enum InterruptMode {
    /**
     * The device signals an eventfd per queue (the parent signals it straight from its data path);
     * waiting polls that eventfd. Interrupts are enabled only while someone waits.
     */
    EVENTFD,
    /**
     * The device calls back on its own thread; the callback given in {@link DriverOptions} runs there
     * and must be short. Waiting polls the ring with backoff.
     */
    CALLBACK,
    /** No interrupts: the driver asks the device not to send any and waits by polling the ring. */
    POLL
}

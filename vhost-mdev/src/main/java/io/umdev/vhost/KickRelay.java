package io.umdev.vhost;

import io.umdev.linux.EventFd;
import io.umdev.linux.LinuxException;
import io.umdev.linux.Poll;
import io.umdev.virtio.transport.VirtioDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns a ring's kick eventfd into {@link VirtioDevice#kick(int)}: one thread that waits on the eventfd,
 * drains its counter and rings the device's doorbell. The front-end's eventfd may be non-blocking, so the
 * thread polls before it reads. Nothing is allocated per kick. To stop, the relay sets its flag and
 * signals the eventfd itself, which only this thread reads.
 */
final class KickRelay implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(KickRelay.class);
    private static final int WAIT_FOREVER = -1;
    private static final long JOIN_MILLIS = 5_000;

    private final VirtioDevice device;
    private final int queue;
    private final EventFd kick;
    private final Thread thread;
    private volatile boolean stopped;

    private KickRelay(VirtioDevice device, int queue, EventFd kick, String name) {
        this.device = device;
        this.queue = queue;
        this.kick = kick;
        this.thread = Thread.ofPlatform().daemon().name("vhost-kick-" + name + "-q" + queue).unstarted(this);
    }

    /** Starts relaying kicks of {@code kick} (which stays the caller's) to queue {@code queue}. */
    static KickRelay start(VirtioDevice device, int queue, EventFd kick, String name) {
        KickRelay relay = new KickRelay(device, queue, kick, name);
        relay.thread.start();
        return relay;
    }

    @Override
    public void run() {
        if (!kick.fd().acquire()) {
            return;
        }
        try {
            int fd = kick.fd().fd();
            while (!stopped) {
                int events = Poll.poll(fd, Poll.POLLIN, WAIT_FOREVER);
                if (stopped) {
                    break;
                }
                if ((events & (Poll.POLLERR | Poll.POLLNVAL)) != 0) {
                    LOG.warn("kick eventfd of queue {} failed (events 0x{}); no more kicks", queue,
                            Integer.toHexString(events));
                    break;
                }
                if ((events & Poll.POLLIN) != 0 && kick.read() != 0) {
                    device.kick(queue);
                }
            }
        } catch (LinuxException e) {
            if (!stopped) {
                LOG.warn("kick eventfd of queue {}: {}; no more kicks", queue, e.getMessage());
            }
        } finally {
            kick.fd().release();
        }
    }

    /** Stops the thread and waits for it; the eventfd is not closed. */
    void stop() {
        stopped = true;
        kick.signal();
        try {
            thread.join(JOIN_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.warn("kick relay of queue {} did not stop", queue);
        }
    }
}

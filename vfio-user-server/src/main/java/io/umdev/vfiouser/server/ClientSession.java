package io.umdev.vfiouser.server;

import io.umdev.vfiouser.protocol.Capabilities;
import io.umdev.vfiouser.transport.PeerCredentials;

/** The client currently connected to a device, as the device sees it. */
public interface ClientSession {
    /** Who connected, as the kernel vouches. */
    PeerCredentials peer();

    /** What the client announced it can receive. */
    Capabilities clientCapabilities();

    /** False once the client has gone. */
    boolean isOpen();
}

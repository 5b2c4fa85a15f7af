package io.umdev.vfiouser.server;

import io.umdev.linux.ProcessIdentity;
import io.umdev.vfiouser.transport.PeerCredentials;

/** Decides from a connecting peer's credentials whether it may use the device. */
@FunctionalInterface
public interface AccessPolicy {
    boolean permits(PeerCredentials peer);

    /** The default: the user running the server, and root. */
    static AccessPolicy sameUserOrRoot() {
        long self = ProcessIdentity.uid();
        return peer -> peer.uid() == self || peer.uid() == 0;
    }

    /** Everyone who can open the socket file. */
    static AccessPolicy anyone() {
        return peer -> true;
    }
}

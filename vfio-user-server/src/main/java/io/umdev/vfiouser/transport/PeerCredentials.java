package io.umdev.vfiouser.transport;

/** Who is at the other end of a Unix socket (SO_PEERCRED), as the kernel vouches. */
public record PeerCredentials(long pid, long uid, long gid) {
}

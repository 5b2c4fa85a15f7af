package io.umdev.vfiouser.client;

import io.umdev.linux.OwnedFd;
import io.umdev.vfiouser.protocol.RegionIoFdsPayload.Subregion;
import java.util.List;

/** The doorbells of a region: sub-regions, each naming one of {@code fds} by index. The caller owns the fds. */
public record RegionIoFds(int index, List<Subregion> subregions, List<OwnedFd> fds) {
}

package io.umdev.it;

import org.testcontainers.images.ImagePullPolicy;
import org.testcontainers.utility.DockerImageName;

/** Images are built locally by provision.sh (docker import); nothing is ever pulled from a registry. */
final class NeverPull implements ImagePullPolicy {

    static final NeverPull INSTANCE = new NeverPull();

    private NeverPull() {
    }

    @Override
    public boolean shouldPull(DockerImageName imageName) {
        return false;
    }
}

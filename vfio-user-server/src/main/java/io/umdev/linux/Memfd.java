package io.umdev.linux;

import java.lang.foreign.Arena;

/** Anonymous shared memory files (memfd_create): guest RAM in tests, device BARs and rings. */
public final class Memfd {
    private Memfd() {
    }

    /** A new memfd of the given size, close-on-exec, sealable. */
    public static OwnedFd create(String name, long size) throws LinuxException {
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            fd = LibC.memfdCreate(arena.allocateFrom(name), LibC.MFD_CLOEXEC | LibC.MFD_ALLOW_SEALING);
        }
        OwnedFd owned = OwnedFd.adopt(fd);
        try {
            LibC.ftruncate(fd, size);
        } catch (LinuxException e) {
            owned.close();
            throw e;
        }
        return owned;
    }
}

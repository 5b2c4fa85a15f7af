package io.umdev.vfiouser.server;

import io.umdev.linux.EventFd;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The descriptors the fuzzer sends: memfds of useful and useless sizes, eventfds, and things that are
 * neither (character devices, a read-only and a writable plain file, a socket). Sending one does not
 * use it up, so they are made once and closed at the end.
 */
final class FuzzFds implements AutoCloseable {
    /** One descriptor to send and what it is. */
    record Entry(String kind, FileDescriptor fd, long size) {
    }

    private static final int EVENTFDS = 24;

    private final List<AutoCloseable> owned = new ArrayList<>();
    private final List<Entry> memfds = new ArrayList<>();
    private final List<Entry> eventfds = new ArrayList<>();
    private final List<Entry> all = new ArrayList<>();

    FuzzFds(Path dir) throws Exception {
        try {
            for (long size : new long[] {1 << 20, 2 << 20, 64 << 10, 4096, 10_000, 0}) {
                OwnedFd fd = Memfd.create("fuzz-" + size, size);
                owned.add(fd);
                Entry e = new Entry("memfd-" + size, descriptor(fd), size);
                memfds.add(e);
                all.add(e);
            }
            for (int i = 0; i < EVENTFDS; i++) {
                EventFd fd = EventFd.createNonBlocking();
                owned.add(fd);
                Entry e = new Entry("eventfd", descriptor(fd.fd()), 0);
                eventfds.add(e);
                all.add(e);
            }
            for (String device : new String[] {"/dev/null", "/dev/zero"}) {
                FileInputStream in = new FileInputStream(device);
                owned.add(in);
                all.add(new Entry(device, in.getFD(), 0));
            }
            Path file = dir.resolve("fuzz-file");
            RandomAccessFile rw = new RandomAccessFile(file.toFile(), "rw");
            owned.add(rw);
            rw.setLength(64 << 10);
            all.add(new Entry("file-rw", rw.getFD(), 64 << 10));
            FileInputStream ro = new FileInputStream(file.toFile());
            owned.add(ro);
            all.add(new Entry("file-ro", ro.getFD(), 64 << 10));
            // A listening socket and a connected one (junixsocket's socketpair leaks descriptors on close).
            AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open();
            owned.add(listener);
            listener.bind(AFUNIXSocketAddress.of(dir.resolve("fuzz-peer.sock")));
            all.add(new Entry("listening-socket", listener.getFileDescriptor(), 0));
            AFUNIXSocketChannel connected = AFUNIXSocketChannel.open(AFUNIXSocketAddress.of(dir.resolve("fuzz-peer.sock")));
            owned.add(connected);
            owned.add(listener.accept());
            all.add(new Entry("socket", connected.getFileDescriptor(), 0));
        } catch (Exception e) {
            close();
            throw e;
        }
    }

    private static FileDescriptor descriptor(OwnedFd fd) throws IOException {
        return FileDescriptorCast.unsafeUsing(fd.fd()).getFileDescriptor();
    }

    /** A memfd, big enough for most maps or not. */
    Entry memfd(SplittableRandom r) {
        return r.nextInt(4) > 0 ? memfds.get(r.nextInt(2)) : memfds.get(r.nextInt(memfds.size()));
    }

    /** {@code n} distinct eventfds (at most as many as there are). */
    FileDescriptor[] eventfds(int n) {
        FileDescriptor[] fds = new FileDescriptor[Math.min(n, eventfds.size())];
        for (int i = 0; i < fds.length; i++) {
            fds[i] = eventfds.get(i).fd();
        }
        return fds;
    }

    /** {@code n} descriptors of any kind, repeats allowed. */
    FileDescriptor[] any(SplittableRandom r, int n) {
        FileDescriptor[] fds = new FileDescriptor[n];
        for (int i = 0; i < n; i++) {
            fds[i] = all.get(r.nextInt(all.size())).fd();
        }
        return fds;
    }

    @Override
    public void close() throws IOException {
        IOException failure = null;
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                failure = new IOException("closing a fuzz descriptor", e);
            }
        }
        owned.clear();
        if (failure != null) {
            throw failure;
        }
    }
}

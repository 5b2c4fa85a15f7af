package io.umdev.vfiouser.transport;

import io.umdev.linux.OwnedFd;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The descriptors junixsocket received on one socket, taken over safely: each is duplicated into a
 * descriptor we own and junixsocket's is closed, so that junixsocket forgets it and cannot close our
 * number later when the socket closes. Closing happens under junixsocket's own lock (see
 * {@link AncillarySupport}), so a concurrent close of the socket cannot deadlock with it. Used through
 * {@link DescriptorStream}, which every umdev transport that receives descriptors is built on.
 */
final class ReceivedDescriptors {
    private final AFUNIXSocketChannel channel;
    private final Object lock;

    /** Also makes the socket's ancillary buffer large enough for anything a peer can send (see {@link AncillarySupport}). */
    ReceivedDescriptors(AFUNIXSocketChannel channel) {
        this.channel = channel;
        // Room for all a peer can send, not just what it may: a truncated receive leaks descriptors.
        AncillarySupport.ensureFull(channel);
        this.lock = AncillarySupport.receivedDescriptorsLock(channel);
    }

    /** The descriptors that came with the bytes read since the last call, now ours (an empty list if none). */
    List<OwnedFd> take() throws IOException {
        FileDescriptor[] received = channel.getReceivedFileDescriptors();
        if (received == null || received.length == 0) {
            return new ArrayList<>(0);
        }
        List<OwnedFd> owned = new ArrayList<>(received.length);
        IOException failure = null;
        for (FileDescriptor fd : received) {
            try {
                int number = FileDescriptorCast.using(fd).as(Integer.class);
                owned.add(OwnedFd.adopt(number).duplicateAndForget());
            } catch (IOException e) {
                failure = e;
            } finally {
                close(fd);
            }
        }
        if (failure != null) {
            owned.forEach(OwnedFd::close);
            throw failure;
        }
        return owned;
    }

    /** Closes the descriptors that came with the bytes read since the last call: they belong to no message. */
    void discard() throws IOException {
        FileDescriptor[] received = channel.getReceivedFileDescriptors();
        if (received != null) {
            for (FileDescriptor fd : received) {
                close(fd);
            }
        }
    }

    private void close(FileDescriptor fd) throws IOException {
        synchronized (lock) {
            if (fd.valid()) {
                new FileInputStream(fd).close();
            }
        }
    }
}

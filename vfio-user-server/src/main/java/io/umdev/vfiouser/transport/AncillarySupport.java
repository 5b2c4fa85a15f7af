package io.umdev.vfiouser.transport;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What we need from junixsocket's handling of received descriptors that its API does not offer,
 * reached through its package-private members (checked against the junixsocket version the build pins;
 * if they move, we log a warning and carry on with the weaker behaviour described below).
 *
 * <p><b>Room for every descriptor one message can carry.</b> Linux passes up to 253 descriptors (SCM_MAX_FD) with one sendmsg. If the receiver's control
 * buffer is smaller, recvmsg installs the descriptors that fit and sets MSG_CTRUNC; junixsocket then
 * fails the read with ENOBUFS and never hands over (or closes) the descriptors already installed, so
 * every such message leaks them. junixsocket 2.11 caps the buffer at 256 bytes (60 descriptors)
 * whatever size is asked for, so this enlarges it through junixsocket's package-private setter. A peer
 * that sends more than it may is then refused by the protocol layer, which closes what it sent.
 *
 * <p><b>The lock to release a received descriptor under.</b> junixsocket remembers each descriptor it
 * received in a synchronized map and, when the socket closes, closes those still open while holding the
 * map's monitor, taking each descriptor's monitor inside. Closing one of them ourselves runs the other
 * way round: the JDK holds the descriptor's monitor while junixsocket's hook removes it from the map. A
 * close of the socket (ours, or junixsocket's own after a failed write or an interrupt) racing with the
 * release of a received descriptor therefore deadlocks. Releasing under the map's monitor first puts
 * both in the same order.
 */
final class AncillarySupport {
    /** More than CMSG_SPACE(253 * sizeof(int)) = 1032 bytes. */
    static final int FULL = 2048;

    private static final Logger LOG = LoggerFactory.getLogger(AncillarySupport.class);
    private static final Method GET_CORE;
    private static final Field SUPPORT;
    private static final Method SET_SIZE;
    private static final Field RECEIVED;

    static {
        Method getCore = null;
        Field support = null;
        Method setSize = null;
        Field received = null;
        try {
            getCore = Class.forName("org.newsclub.net.unix.AFSocketChannel").getDeclaredMethod("getAFCore");
            support = Class.forName("org.newsclub.net.unix.AFCore").getDeclaredField("ancillaryDataSupport");
            setSize = Class.forName("org.newsclub.net.unix.AncillaryDataSupport")
                    .getDeclaredMethod("setAncillaryReceiveBufferSize0", int.class);
            received = Class.forName("org.newsclub.net.unix.AncillaryDataSupport")
                    .getDeclaredField("openReceivedFileDescriptors");
            getCore.setAccessible(true);
            support.setAccessible(true);
            setSize.setAccessible(true);
            received.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn("cannot reach junixsocket's received-descriptor support ({}): a peer sending over 60 "
                    + "descriptors in one message will leak them, and closing a socket while its descriptors are "
                    + "released may deadlock", e.toString());
            getCore = null;
        }
        GET_CORE = getCore;
        SUPPORT = support;
        SET_SIZE = setSize;
        RECEIVED = received;
    }

    private AncillarySupport() {
    }

    /** Makes the buffer {@link #FULL}; false if junixsocket would not let us. */
    static boolean ensureFull(AFUNIXSocketChannel channel) {
        channel.ensureAncillaryReceiveBufferSize(FULL);
        if (channel.getAncillaryReceiveBufferSize() >= FULL) {
            return true;
        }
        if (GET_CORE == null) {
            return false;
        }
        try {
            SET_SIZE.invoke(SUPPORT.get(GET_CORE.invoke(channel)), FULL);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false;
        }
        return channel.getAncillaryReceiveBufferSize() >= FULL;
    }

    /**
     * The monitor to hold while closing a descriptor {@code channel} received: junixsocket's own, or, if
     * it cannot be reached, a fresh object (which orders nothing: see the class comment).
     */
    static Object receivedDescriptorsLock(AFUNIXSocketChannel channel) {
        if (GET_CORE != null) {
            try {
                Object map = RECEIVED.get(SUPPORT.get(GET_CORE.invoke(channel)));
                if (map != null) {
                    return map;
                }
            } catch (ReflectiveOperationException | RuntimeException e) {
                LOG.warn("cannot reach junixsocket's received-descriptor map ({})", e.toString());
            }
        }
        return new Object();
    }
}

package io.umdev.vfiouser.transport;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import org.newsclub.net.unix.AFUNIXSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Room in a socket's ancillary receive buffer for every descriptor one message can carry.
 *
 * <p>Linux passes up to 253 descriptors (SCM_MAX_FD) with one sendmsg. If the receiver's control
 * buffer is smaller, recvmsg installs the descriptors that fit and sets MSG_CTRUNC; junixsocket then
 * fails the read with ENOBUFS and never hands over (or closes) the descriptors already installed, so
 * every such message leaks them. junixsocket 2.11 caps the buffer at 256 bytes (60 descriptors)
 * whatever size is asked for, so this enlarges it through junixsocket's package-private setter. A peer
 * that sends more than it may is then refused by the protocol layer, which closes what it sent.
 */
final class AncillaryBuffers {
    /** More than CMSG_SPACE(253 * sizeof(int)) = 1032 bytes. */
    static final int FULL = 2048;

    private static final Logger LOG = LoggerFactory.getLogger(AncillaryBuffers.class);
    private static final Method GET_CORE;
    private static final Field SUPPORT;
    private static final Method SET_SIZE;

    static {
        Method getCore = null;
        Field support = null;
        Method setSize = null;
        try {
            getCore = Class.forName("org.newsclub.net.unix.AFSocketChannel").getDeclaredMethod("getAFCore");
            support = Class.forName("org.newsclub.net.unix.AFCore").getDeclaredField("ancillaryDataSupport");
            setSize = Class.forName("org.newsclub.net.unix.AncillaryDataSupport")
                    .getDeclaredMethod("setAncillaryReceiveBufferSize0", int.class);
            getCore.setAccessible(true);
            support.setAccessible(true);
            setSize.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn("cannot enlarge junixsocket's ancillary buffer ({}): a peer sending over 60 descriptors in "
                    + "one message will leak them", e.toString());
            getCore = null;
        }
        GET_CORE = getCore;
        SUPPORT = support;
        SET_SIZE = setSize;
    }

    private AncillaryBuffers() {
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
}

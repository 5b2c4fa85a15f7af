package io.umdev.virtio.transport;

/**
 * Where a device records the client memory it wrote, while the client migrates (vhost's log base). The
 * device calls it on its data path for every buffer range and ring area it writes, so it must be cheap,
 * non-blocking and safe from several queue threads (e.g. an atomic bitmap of pages).
 */
@FunctionalInterface
public interface DirtyLog {
    /** [iova, iova+length) was written. */
    void markDirty(long iova, long length);
}

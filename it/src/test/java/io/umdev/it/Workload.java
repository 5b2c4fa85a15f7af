package io.umdev.it;

import java.util.Locale;

/** What the guest's /init runs, in the order given ({@code umdev.workload=} on the kernel command line). */
public enum Workload {
    /** One {@code pci} line per PCI function. */
    PCI,
    /** One {@code virtio} line per virtio device. */
    VIRTIO,
    /** For each disk in {@code umdev.blk.devs}: {@code blk-dev}, {@code blk-seq} x2, {@code blk-rand} x2, {@code blk-integrity}. */
    BLK,
    /** {@code net-link}, and with a peer {@code net-ping} and a {@code net-tcp} stream. */
    NET,
    /** The sample DMA engine ({@code io.umdev.emudev.sample.DmaEngine}): {@code dma-device}, one {@code dma} line per operation. */
    DMA;

    /** The word /init expects. */
    public String tag() {
        return name().toLowerCase(Locale.ROOT);
    }
}

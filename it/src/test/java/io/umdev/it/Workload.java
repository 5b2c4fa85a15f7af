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
    /**
     * {@code net-link} (with {@code umdev.net.mac} first {@code net-ctrl}: control-queue commands),
     * {@code net-queues}, and with a peer {@code net-ping} and a {@code net-tcp} stream.
     */
    NET,
    /** Numbered O_DSYNC 4 KiB writes on the first disk, one {@code blk-ack} line per acknowledged block. */
    BLK_ACKED,
    /** Boot 1 runs the workloads before it, then reboots; boot 2 runs those after it ({@code boot}, {@code reboot}). */
    REBOOT,
    /** A malformed driver: a descriptor loop on a virtio function's queue 0, then reset and rebind ({@code virtio-loop}). */
    VIRTIO_LOOP,
    /** The sample DMA engine ({@code io.umdev.emudev.sample.DmaEngine}): {@code dma-device}, one {@code dma} line per operation. */
    DMA;

    /** The word /init expects. */
    public String tag() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}

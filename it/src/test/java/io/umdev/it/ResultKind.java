package io.umdev.it;

/** The kinds of result line the guest prints (the word after {@code @umdev}). */
public enum ResultKind {
    /** First line: protocol, kernel release, workloads. */
    BEGIN("begin"),
    /** Last line: status and error count; the guest powers off after it. */
    END("end"),
    /** A kernel module /init loaded. */
    MODULE("module"),
    /** Something in a workload failed. */
    ERROR("error"),
    PCI("pci"),
    VIRTIO("virtio"),
    BLK_DEV("blk-dev"),
    BLK_SEQ("blk-seq"),
    BLK_RAND("blk-rand"),
    BLK_INTEGRITY("blk-integrity"),
    NET_LINK("net-link"),
    NET_PING("net-ping"),
    NET_TCP("net-tcp"),
    /** The receive/transmit queues virtio_net enabled (its VQ_PAIRS_SET). */
    NET_QUEUES("net-queues"),
    /** Control-queue commands the guest caused: a live MAC change, promisc, allmulti, a multicast group. */
    NET_CTRL("net-ctrl"),
    /** One numbered 4 KiB block written with O_DSYNC and acknowledged. */
    BLK_ACK("blk-ack"),
    /** The boot count kept on a disk (workload reboot). */
    BOOT("boot"),
    /** The guest is about to reboot (workload reboot, first boot). */
    REBOOT("reboot"),
    /** A hand-driven descriptor loop on a virtio queue and what the device did with it. */
    VIRTIO_LOOP("virtio-loop"),
    /** umdev's sample DMA engine as the guest found it. */
    DMA_DEVICE("dma-device"),
    /** One operation of the sample DMA engine. */
    DMA("dma");

    private final String tag;

    ResultKind(String tag) {
        this.tag = tag;
    }

    /** The word the guest prints. */
    public String tag() {
        return tag;
    }
}

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

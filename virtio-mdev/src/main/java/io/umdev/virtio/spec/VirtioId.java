package io.umdev.virtio.spec;

/** Virtio device IDs (virtio section 5). 0 is reserved: no device. */
public final class VirtioId {
    public static final int INVALID = 0;
    public static final int NET = 1;
    public static final int BLOCK = 2;
    public static final int CONSOLE = 3;
    public static final int ENTROPY = 4;
    public static final int BALLOON = 5;
    public static final int SCSI = 8;
    public static final int NINE_P = 9;
    public static final int GPU = 16;
    public static final int INPUT = 18;
    public static final int VSOCK = 19;
    public static final int CRYPTO = 20;
    public static final int FS = 26;

    /** Vendor ID virtio-pci devices carry (Red Hat / Qumranet); also the default transport vendor. */
    public static final int PCI_VENDOR = 0x1AF4;

    private VirtioId() {
    }
}

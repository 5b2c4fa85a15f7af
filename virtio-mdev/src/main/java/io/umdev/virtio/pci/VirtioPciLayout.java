package io.umdev.virtio.pci;

import io.umdev.virtio.spec.VirtioId;

/**
 * The virtio-pci transport's facts (virtio 1.2 section 4.1), defined once: PCI identity, the vendor
 * capability layout, the common configuration structure, ISR bits, and where umdev places each area.
 */
public final class VirtioPciLayout {
    private VirtioPciLayout() {
    }

    // ---- PCI identity ------------------------------------------------------------------------------

    /** A modern device's PCI device ID is this plus the virtio device ID. */
    public static final int MODERN_DEVICE_ID_BASE = 0x1040;
    /** Non-transitional devices have revision 1 or higher. */
    public static final int REVISION = 1;
    /** Subsystem ID: QEMU's (the spec asks non-transitional devices for 0x40 or more). */
    public static final int SUBSYSTEM_ID = 0x1100;
    /** Class codes QEMU gives each device type (base class, sub-class, interface). */
    public static final int CLASS_NETWORK_ETHERNET = 0x020000;
    public static final int CLASS_STORAGE_SCSI = 0x010000;
    public static final int CLASS_COMMUNICATION_OTHER = 0x078000;
    public static final int CLASS_INPUT_OTHER = 0x098000;
    public static final int CLASS_DISPLAY_OTHER = 0x038000;
    public static final int CLASS_OTHER = 0xff0000;

    /** The PCI device ID of a modern device of virtio type {@code virtioId}. */
    public static int deviceId(int virtioId) {
        return MODERN_DEVICE_ID_BASE + virtioId;
    }

    /** The class code for virtio type {@code virtioId}, as QEMU's virtio-pci devices report it. */
    public static int classCode(int virtioId) {
        return switch (virtioId) {
            case VirtioId.NET -> CLASS_NETWORK_ETHERNET;
            case VirtioId.BLOCK, VirtioId.SCSI -> CLASS_STORAGE_SCSI;
            case VirtioId.CONSOLE, VirtioId.VSOCK -> CLASS_COMMUNICATION_OTHER;
            case VirtioId.INPUT -> CLASS_INPUT_OTHER;
            case VirtioId.GPU -> CLASS_DISPLAY_OTHER;
            default -> CLASS_OTHER;
        };
    }

    // ---- struct virtio_pci_cap ---------------------------------------------------------------------

    /** cfg_type values. */
    public static final int CAP_COMMON_CFG = 1;
    public static final int CAP_NOTIFY_CFG = 2;
    public static final int CAP_ISR_CFG = 3;
    public static final int CAP_DEVICE_CFG = 4;
    public static final int CAP_PCI_CFG = 5;

    /** Field offsets from the capability's start (its first byte is the capability ID). */
    public static final int CAP_LEN = 2;
    public static final int CAP_CFG_TYPE = 3;
    public static final int CAP_BAR = 4;
    public static final int CAP_INSTANCE_ID = 5;
    public static final int CAP_OFFSET = 8;
    public static final int CAP_LENGTH = 12;
    /** The notify capability's multiplier, and the PCI config access capability's data window. */
    public static final int CAP_NOTIFY_OFF_MULTIPLIER = 16;
    public static final int CAP_PCI_CFG_DATA = 16;
    /** Sizes: a plain capability, and the notify / PCI config access ones with their extra word. */
    public static final int CAP_SIZE = 16;
    public static final int CAP_EXTENDED_SIZE = 20;
    /** The PCI config access window moves 1, 2 or 4 bytes. */
    public static final int PCI_CFG_DATA_SIZE = 4;

    // ---- struct virtio_pci_common_cfg --------------------------------------------------------------

    public static final int DEVICE_FEATURE_SELECT = 0;
    public static final int DEVICE_FEATURE = 4;
    public static final int DRIVER_FEATURE_SELECT = 8;
    public static final int DRIVER_FEATURE = 12;
    public static final int MSIX_CONFIG = 16;
    public static final int NUM_QUEUES = 18;
    public static final int DEVICE_STATUS = 20;
    public static final int CONFIG_GENERATION = 21;
    public static final int QUEUE_SELECT = 22;
    public static final int QUEUE_SIZE = 24;
    public static final int QUEUE_MSIX_VECTOR = 26;
    public static final int QUEUE_ENABLE = 28;
    public static final int QUEUE_NOTIFY_OFF = 30;
    public static final int QUEUE_DESC = 32;
    public static final int QUEUE_DRIVER = 40;
    public static final int QUEUE_DEVICE = 48;
    public static final int QUEUE_NOTIFY_DATA = 56;
    public static final int QUEUE_RESET = 58;
    public static final int ADMIN_QUEUE_INDEX = 60;
    public static final int ADMIN_QUEUE_NUM = 62;
    /** The structure up to and including admin_queue_num. */
    public static final int COMMON_CFG_SIZE = 64;
    /** Feature windows are 32 bits wide: select 0 is bits 0-31, select 1 bits 32-63. */
    public static final int FEATURE_WINDOW_BITS = 32;
    public static final int FEATURE_WINDOWS = 2;
    /** "No MSI-X vector" in msix_config and queue_msix_vector. */
    public static final int NO_VECTOR = 0xffff;

    // ---- ISR status (read to clear) ----------------------------------------------------------------

    public static final int ISR_QUEUE = 0x1;
    public static final int ISR_CONFIG = 0x2;
    public static final int ISR_SIZE = 1;

    // ---- Where umdev puts things ---------------------------------------------------------------------

    /** BAR4, 64-bit prefetchable memory, holds every virtio area (as QEMU's modern BAR), 4 KiB apart. */
    public static final int VIRTIO_BAR = 4;
    public static final long COMMON_OFFSET = 0x0000;
    public static final long ISR_OFFSET = 0x1000;
    public static final long DEVICE_OFFSET = 0x2000;
    public static final long NOTIFY_OFFSET = 0x3000;
    /** Each area has a 4 KiB slot of its own. */
    public static final long AREA_SLOT = 0x1000;
    public static final long VIRTIO_BAR_SIZE = 0x4000;
    /** Bytes between two queues' doorbells: queue q rings at NOTIFY_OFFSET + q * multiplier. */
    public static final int NOTIFY_OFF_MULTIPLIER = 4;
    /** The most queues whose doorbells fit the notify slot. */
    public static final int MAX_QUEUES = (int) (AREA_SLOT / NOTIFY_OFF_MULTIPLIER);

    /** BAR1, 32-bit memory: the MSI-X table at 0 and its pending-bit array at half the BAR. */
    public static final int MSIX_BAR = 1;
    public static final long MSIX_TABLE_OFFSET = 0;
    public static final long MSIX_BAR_MIN_SIZE = 0x1000;
}

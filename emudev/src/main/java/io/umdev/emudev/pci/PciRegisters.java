package io.umdev.emudev.pci;

/**
 * Offsets and bits of the PCI type-0 configuration header and of the capabilities umdev builds
 * (PCI Local Bus 3.0, PCI Express Base, PCI PM 1.2). Defined once; logic names them, never numbers.
 */
public final class PciRegisters {
    public static final int CONFIG_SIZE = 256;
    public static final int EXPRESS_CONFIG_SIZE = 4096;

    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    public static final int CLASS_PROG = 0x09;
    public static final int CLASS_CODE = 0x0a;
    public static final int CACHE_LINE_SIZE = 0x0c;
    public static final int LATENCY_TIMER = 0x0d;
    public static final int HEADER_TYPE = 0x0e;
    public static final int BIST = 0x0f;
    public static final int BAR0 = 0x10;
    public static final int BAR_COUNT = 6;
    public static final int BAR_STRIDE = 4;
    public static final int CARDBUS_CIS = 0x28;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c;
    public static final int SUBSYSTEM_ID = 0x2e;
    public static final int ROM_ADDRESS = 0x30;
    public static final int CAPABILITY_LIST = 0x34;
    public static final int INTERRUPT_LINE = 0x3c;
    public static final int INTERRUPT_PIN = 0x3d;
    public static final int MIN_GNT = 0x3e;
    public static final int MAX_LAT = 0x3f;
    /** First byte after the standard header: capabilities live in [HEADER_END, CONFIG_SIZE). */
    public static final int HEADER_END = 0x40;
    /** First extended capability (PCI Express configuration space only). */
    public static final int EXTENDED_CAPABILITIES = 0x100;

    public static final int HEADER_TYPE_NORMAL = 0x00;

    public static final int COMMAND_IO = 1 << 0;
    public static final int COMMAND_MEMORY = 1 << 1;
    public static final int COMMAND_MASTER = 1 << 2;
    public static final int COMMAND_PARITY = 1 << 6;
    public static final int COMMAND_SERR = 1 << 8;
    public static final int COMMAND_INTX_DISABLE = 1 << 10;
    /** The command bits software may set on a device without special cycles, VGA snooping or fast back-to-back. */
    public static final int COMMAND_WRITABLE = COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER | COMMAND_PARITY
            | COMMAND_SERR | COMMAND_INTX_DISABLE;

    public static final int STATUS_INTERRUPT = 1 << 3;
    public static final int STATUS_CAPABILITY_LIST = 1 << 4;
    public static final int STATUS_MASTER_PARITY_ERROR = 1 << 8;
    public static final int STATUS_SIGNALED_TARGET_ABORT = 1 << 11;
    public static final int STATUS_RECEIVED_TARGET_ABORT = 1 << 12;
    public static final int STATUS_RECEIVED_MASTER_ABORT = 1 << 13;
    public static final int STATUS_SIGNALED_SYSTEM_ERROR = 1 << 14;
    public static final int STATUS_DETECTED_PARITY_ERROR = 1 << 15;
    /** Error bits: set by the device, cleared by writing 1. */
    public static final int STATUS_WRITE_ONE_TO_CLEAR = STATUS_MASTER_PARITY_ERROR | STATUS_SIGNALED_TARGET_ABORT
            | STATUS_RECEIVED_TARGET_ABORT | STATUS_RECEIVED_MASTER_ABORT | STATUS_SIGNALED_SYSTEM_ERROR
            | STATUS_DETECTED_PARITY_ERROR;

    public static final int BAR_SPACE_IO = 0x1;
    public static final int BAR_MEMORY_TYPE_64 = 0x4;
    public static final int BAR_MEMORY_PREFETCH = 0x8;
    /** Low bits of a memory BAR that describe it rather than address it. */
    public static final int BAR_MEMORY_FLAGS = 0xf;
    public static final int BAR_IO_FLAGS = 0x3;
    /** Smallest memory BAR the PCI spec allows (and what x86 guests map: a page is safer). */
    public static final long BAR_MEMORY_MIN_SIZE = 16;
    public static final long BAR_IO_MIN_SIZE = 4;
    public static final long BAR_IO_MAX_SIZE = 256;

    public static final int INTERRUPT_PIN_NONE = 0;
    public static final int INTERRUPT_PIN_INTA = 1;

    /** Capability IDs (standard list). */
    public static final int CAP_ID_PM = 0x01;
    public static final int CAP_ID_MSI = 0x05;
    public static final int CAP_ID_VENDOR = 0x09;
    public static final int CAP_ID_EXPRESS = 0x10;
    public static final int CAP_ID_MSIX = 0x11;
    /** Offsets within every standard capability. */
    public static final int CAP_ID = 0;
    public static final int CAP_NEXT = 1;
    /** Standard capabilities start on 4-byte boundaries; the low 2 bits of a pointer are reserved. */
    public static final int CAP_ALIGNMENT = 4;
    public static final int CAP_POINTER_MASK = 0xfc;

    /** Extended capability header: ID in bits 0-15, version 16-19, next offset 20-31. */
    public static final int EXT_CAP_VERSION_SHIFT = 16;
    public static final int EXT_CAP_NEXT_SHIFT = 20;
    public static final int EXT_CAP_ID_VENDOR = 0x000b;

    /** Power management capability (8 bytes). */
    public static final int PM_LENGTH = 8;
    public static final int PM_CAPABILITIES = 2;
    public static final int PM_CONTROL_STATUS = 4;
    /** PMC: version 3 of the PM spec (1.2). */
    public static final int PM_VERSION_1_2 = 0x3;
    /** PMCSR: power state D0..D3hot in bits 0-1, No_Soft_Reset, PME status (write-1-to-clear). */
    public static final int PM_STATE_MASK = 0x3;
    public static final int PM_NO_SOFT_RESET = 1 << 3;
    public static final int PM_PME_STATUS = 1 << 15;

    /** MSI capability: 64-bit address, optional per-vector masking (24 bytes with masking). */
    public static final int MSI_CONTROL = 2;
    public static final int MSI_ADDRESS_LO = 4;
    public static final int MSI_ADDRESS_HI = 8;
    public static final int MSI_DATA_64 = 12;
    public static final int MSI_MASK_64 = 16;
    public static final int MSI_PENDING_64 = 20;
    public static final int MSI_LENGTH_64 = 16;
    public static final int MSI_LENGTH_64_MASKED = 24;
    public static final int MSI_CONTROL_ENABLE = 1 << 0;
    public static final int MSI_CONTROL_MMC_SHIFT = 1;
    public static final int MSI_CONTROL_MME_MASK = 0x7 << 4;
    public static final int MSI_CONTROL_64BIT = 1 << 7;
    public static final int MSI_CONTROL_PER_VECTOR_MASK = 1 << 8;
    public static final int MSI_MAX_VECTORS = 32;

    /** MSI-X capability (12 bytes) and its table entries (16 bytes each). */
    public static final int MSIX_LENGTH = 12;
    public static final int MSIX_CONTROL = 2;
    public static final int MSIX_TABLE = 4;
    public static final int MSIX_PBA = 8;
    public static final int MSIX_CONTROL_TABLE_SIZE = 0x7ff;
    public static final int MSIX_CONTROL_FUNCTION_MASK = 1 << 14;
    public static final int MSIX_CONTROL_ENABLE = 1 << 15;
    /** Table/PBA registers: BAR indicator in bits 0-2, 8-byte aligned offset above. */
    public static final int MSIX_BIR_MASK = 0x7;
    public static final int MSIX_MAX_VECTORS = 2048;
    public static final int MSIX_ENTRY_SIZE = 16;
    public static final int MSIX_ENTRY_ADDRESS_LO = 0;
    public static final int MSIX_ENTRY_ADDRESS_HI = 4;
    public static final int MSIX_ENTRY_DATA = 8;
    public static final int MSIX_ENTRY_VECTOR_CONTROL = 12;
    public static final int MSIX_ENTRY_MASKED = 1 << 0;
    /** The table and the PBA must start 8-byte aligned. */
    public static final int MSIX_ALIGNMENT = 8;

    /** PCI Express capability, version 2 (60 bytes). */
    public static final int EXP_LENGTH = 0x3c;
    public static final int EXP_FLAGS = 2;
    public static final int EXP_DEVICE_CAPABILITIES = 4;
    public static final int EXP_DEVICE_CONTROL = 8;
    public static final int EXP_DEVICE_STATUS = 10;
    public static final int EXP_LINK_CAPABILITIES = 12;
    public static final int EXP_LINK_CONTROL = 16;
    public static final int EXP_LINK_STATUS = 18;
    public static final int EXP_DEVICE_CAPABILITIES_2 = 0x24;
    public static final int EXP_DEVICE_CONTROL_2 = 0x28;
    public static final int EXP_VERSION_2 = 0x2;
    public static final int EXP_TYPE_SHIFT = 4;
    /** Device/port types: a PCI Express endpoint, and one integrated in the root complex. */
    public static final int EXP_TYPE_ENDPOINT = 0x0;
    public static final int EXP_TYPE_ROOT_COMPLEX_ENDPOINT = 0x9;
    /** Device control bits a driver may set: error reporting, relaxed ordering, payload and read sizes, tags, no-snoop. */
    public static final int EXP_DEVICE_CONTROL_WRITABLE = 0x79ff;
    /** Device status error bits, write-1-to-clear. */
    public static final int EXP_DEVICE_STATUS_ERRORS = 0xf;
    /** Device capabilities: function-level reset supported. */
    public static final int EXP_DEVICE_CAPABILITIES_FLR = 1 << 28;
    /** Device control: initiate function-level reset (reads 0). */
    public static final int EXP_DEVICE_CONTROL_FLR = 1 << 15;

    /** Vendor-specific capability: ID, next, then its own length byte. */
    public static final int VENDOR_LENGTH = 2;
    public static final int VENDOR_HEADER = 3;

    private PciRegisters() {
    }

    /** Config offset of BAR {@code index} (0-5). */
    public static int barOffset(int index) {
        return BAR0 + index * BAR_STRIDE;
    }
}

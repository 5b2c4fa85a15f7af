package io.umdev.emudev.pci;

import static io.umdev.emudev.pci.PciRegisters.*;

/**
 * Builds a function's capability lists into its configuration space: standard capabilities linked
 * from the capabilities pointer in [0x40, 0x100), extended ones from 0x100 in a PCI Express space.
 * Each capability is written with the read-only, read-write and write-1-to-clear bits the specs give
 * its registers. Returns each capability's offset for the device to use.
 */
public final class PciCapabilities {
    private final PciConfigSpace config;
    private int nextFree = HEADER_END;
    private int previousPointer = CAPABILITY_LIST;
    private int nextExtended = EXTENDED_CAPABILITIES;
    private int previousExtended = -1;

    public PciCapabilities(PciConfigSpace config) {
        this.config = config;
    }

    /** Reserves {@code length} bytes for a capability with {@code id} and links it into the list. */
    private int allocate(int id, int length) {
        int offset = (nextFree + CAP_ALIGNMENT - 1) & ~(CAP_ALIGNMENT - 1);
        if (offset + length > CONFIG_SIZE) {
            throw new IllegalStateException("capabilities do not fit in the first 256 bytes of config space");
        }
        config.set8(previousPointer, offset);
        config.set8(offset + CAP_ID, id);
        config.set8(offset + CAP_NEXT, 0);
        config.setBits(STATUS, 2, STATUS_CAPABILITY_LIST);
        previousPointer = offset + CAP_NEXT;
        nextFree = offset + length;
        return offset;
    }

    /** Power management, D0 and D3hot only, no PME. */
    public int addPowerManagement() {
        int at = allocate(CAP_ID_PM, PM_LENGTH);
        config.set16(at + PM_CAPABILITIES, PM_VERSION_1_2);
        config.set16(at + PM_CONTROL_STATUS, PM_NO_SOFT_RESET);
        config.setWritable(at + PM_CONTROL_STATUS, 2, PM_STATE_MASK);
        config.setWriteOneToClear(at + PM_CONTROL_STATUS + 1, 1, PM_PME_STATUS >>> Byte.SIZE);
        return at;
    }

    /** MSI with a 64-bit address and {@code vectors} (a power of two up to 32) vectors. */
    public int addMsi(int vectors, boolean perVectorMask) {
        if (vectors < 1 || vectors > MSI_MAX_VECTORS || Integer.bitCount(vectors) != 1) {
            throw new IllegalArgumentException("MSI vectors must be a power of two up to 32");
        }
        int at = allocate(CAP_ID_MSI, perVectorMask ? MSI_LENGTH_64_MASKED : MSI_LENGTH_64);
        int log2 = Integer.numberOfTrailingZeros(vectors);
        config.set16(at + MSI_CONTROL, (log2 << MSI_CONTROL_MMC_SHIFT) | MSI_CONTROL_64BIT
                | (perVectorMask ? MSI_CONTROL_PER_VECTOR_MASK : 0));
        config.setWritable(at + MSI_CONTROL, 2, MSI_CONTROL_ENABLE | MSI_CONTROL_MME_MASK);
        config.setWritable(at + MSI_ADDRESS_LO, 4, 0xfffffffcL);
        config.setWritable(at + MSI_ADDRESS_HI, 4, 0xffffffffL);
        config.setWritable(at + MSI_DATA_64, 2, 0xffff);
        if (perVectorMask) {
            config.setWritable(at + MSI_MASK_64, 4, vectors == Integer.SIZE ? 0xffffffffL : (1L << vectors) - 1);
        }
        return at;
    }

    /**
     * MSI-X with {@code vectors} entries: the table at {@code tableOffset} of BAR {@code tableBar}, the
     * pending-bit array at {@code pbaOffset} of BAR {@code pbaBar}.
     */
    public int addMsix(int vectors, int tableBar, long tableOffset, int pbaBar, long pbaOffset) {
        if (vectors < 1 || vectors > MSIX_MAX_VECTORS) {
            throw new IllegalArgumentException("MSI-X vectors must be 1..2048");
        }
        if (tableOffset % MSIX_ALIGNMENT != 0 || pbaOffset % MSIX_ALIGNMENT != 0) {
            throw new IllegalArgumentException("the MSI-X table and PBA must be 8-byte aligned");
        }
        int at = allocate(CAP_ID_MSIX, MSIX_LENGTH);
        config.set16(at + MSIX_CONTROL, vectors - 1);
        config.setWritable(at + MSIX_CONTROL, 2, MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK);
        config.set32(at + MSIX_TABLE, tableOffset | tableBar);
        config.set32(at + MSIX_PBA, pbaOffset | pbaBar);
        return at;
    }

    /** PCI Express capability (version 2) of an endpoint or root-complex integrated endpoint. */
    public int addExpress(int deviceType, boolean functionLevelReset) {
        int at = allocate(CAP_ID_EXPRESS, EXP_LENGTH);
        config.set16(at + EXP_FLAGS, EXP_VERSION_2 | (deviceType << EXP_TYPE_SHIFT));
        config.set32(at + EXP_DEVICE_CAPABILITIES, functionLevelReset ? EXP_DEVICE_CAPABILITIES_FLR : 0);
        // "Initiate function-level reset" always reads 0: it is not a stored bit. A device offering FLR
        // watches device control writes for it.
        config.setWritable(at + EXP_DEVICE_CONTROL, 2, EXP_DEVICE_CONTROL_WRITABLE);
        config.setWriteOneToClear(at + EXP_DEVICE_STATUS, 2, EXP_DEVICE_STATUS_ERRORS);
        return at;
    }

    /**
     * A vendor-specific capability holding {@code body} after its 3-byte header (ID, next, length). The
     * body is read-only unless the caller makes parts of it writable through the config space.
     */
    public int addVendor(byte[] body) {
        int length = VENDOR_HEADER + body.length;
        int at = allocate(CAP_ID_VENDOR, length);
        config.set8(at + VENDOR_LENGTH, length);
        for (int i = 0; i < body.length; i++) {
            config.set8(at + VENDOR_HEADER + i, body[i]);
        }
        return at;
    }

    /** A vendor-specific extended capability (PCI Express config space only): header then {@code body}. */
    public int addExtendedVendor(int version, byte[] body) {
        if (!config.isExpress()) {
            throw new IllegalStateException("extended capabilities need a 4 KiB configuration space");
        }
        int at = (nextExtended + CAP_ALIGNMENT - 1) & ~(CAP_ALIGNMENT - 1);
        int length = Integer.BYTES + body.length;
        if (at + length > EXPRESS_CONFIG_SIZE) {
            throw new IllegalStateException("extended capabilities do not fit in config space");
        }
        config.set32(at, EXT_CAP_ID_VENDOR | ((long) version << EXT_CAP_VERSION_SHIFT));
        for (int i = 0; i < body.length; i++) {
            config.set8(at + Integer.BYTES + i, body[i]);
        }
        if (previousExtended >= 0) {
            long header = config.get32(previousExtended);
            config.set32(previousExtended, header | ((long) at << EXT_CAP_NEXT_SHIFT));
        }
        previousExtended = at;
        nextExtended = at + length;
        return at;
    }
}

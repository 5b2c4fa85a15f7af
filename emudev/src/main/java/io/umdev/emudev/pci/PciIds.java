package io.umdev.emudev.pci;

/**
 * A function's identity in its configuration header.
 *
 * @param classCode the 24-bit class code: base class, sub-class, programming interface
 */
public record PciIds(int vendorId, int deviceId, int subsystemVendorId, int subsystemId, int revision, int classCode) {
    private static final int U16 = 0xffff;
    private static final int U8 = 0xff;
    private static final int U24 = 0xffffff;

    public PciIds {
        if ((vendorId & ~U16) != 0 || (deviceId & ~U16) != 0 || (subsystemVendorId & ~U16) != 0
                || (subsystemId & ~U16) != 0 || (revision & ~U8) != 0 || (classCode & ~U24) != 0) {
            throw new IllegalArgumentException("PCI ID field out of range: " + this);
        }
        if (vendorId == U16) {
            throw new IllegalArgumentException("vendor ID 0xffff means 'no device'");
        }
    }
}

package io.umdev.vfiouser.server;

/**
 * What DEVICE_GET_INFO reports: flags (DeviceInfoPayload.FLAG_RESET, FLAG_PCI) and how many region
 * and IRQ indexes there are. A PCI device has at least 9 regions (config space is index 7) and 5 IRQ
 * indexes (INTx, MSI, MSI-X, ERR, REQ).
 */
public record DeviceInfo(int flags, int numRegions, int numIrqs) {
    public DeviceInfo {
        if (numRegions < 0 || numIrqs < 0) {
            throw new IllegalArgumentException("negative region or IRQ count");
        }
    }
}

package io.umdev.it;

/**
 * The guest's malformed driver: it took a virtio-pci function from virtio-pci, put a descriptor loop on queue 0,
 * kicked, watched the device status, reset the device and gave it back to virtio-pci.
 *
 * @param status            the device status the guest read after the kick (NEEDS_RESET expected)
 * @param usedIndex         the used ring's index afterwards: what the device completed (nothing expected)
 * @param statusAfterReset  the status read back after writing 0 (0: the reset completed)
 */
public record VirtioLoop(String slot, int deviceId, int status, int usedIndex, int statusAfterReset, boolean rebound) {

    static VirtioLoop from(ResultLine line) {
        return new VirtioLoop(line.text("slot"), line.intNumber("device_id"), line.intNumber("status"),
                line.intNumber("used_idx"), line.intNumber("status_after_reset"), line.flag("rebound"));
    }

    public boolean needsReset() {
        return (status & VirtioDevice.STATUS_NEEDS_RESET) != 0;
    }
}

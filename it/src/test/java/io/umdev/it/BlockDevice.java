package io.umdev.it;

import java.util.Optional;

/** A block device the blk workload opened: its size, sector size, virtio serial and PCI function. */
public record BlockDevice(String dev, long bytes, int logicalBlockSize, Optional<String> serial, Optional<String> transport) {

    static BlockDevice from(ResultLine line) {
        return new BlockDevice(
                line.text("dev"),
                line.number("bytes"),
                line.intNumber("logical_block"),
                line.optionalText("serial"),
                line.optionalText("transport"));
    }
}

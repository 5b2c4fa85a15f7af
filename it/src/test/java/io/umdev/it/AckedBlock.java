package io.umdev.it;

/** A numbered 4 KiB block the guest wrote with O_DIRECT|O_DSYNC and saw acknowledged, at this disk offset. */
public record AckedBlock(String dev, long sequence, long offset) {

    static AckedBlock from(ResultLine line) {
        return new AckedBlock(line.text("dev"), line.number("seq"), line.number("offset"));
    }
}

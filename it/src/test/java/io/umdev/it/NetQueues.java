package io.umdev.it;

/** The queues of a guest interface that virtio_net made real: one pair per queue pair it enabled. */
public record NetQueues(String dev, int rx, int tx) {

    static NetQueues from(ResultLine line) {
        return new NetQueues(line.text("dev"), line.intNumber("rx"), line.intNumber("tx"));
    }
}

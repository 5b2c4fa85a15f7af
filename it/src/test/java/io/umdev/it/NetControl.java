package io.umdev.it;

import java.util.List;

/**
 * What the guest did to make virtio_net use its control queue: a live MAC change (MAC ADDR_SET), promiscuous
 * and all-multicast on and off (RX commands), joining an IPv4 group (MAC TABLE_SET); and the multicast MACs the
 * interface then listened to.
 */
public record NetControl(String dev, String macBefore, String macAfter, String group, List<String> multicastMacs) {

    static NetControl from(ResultLine line) {
        return new NetControl(line.text("dev"), line.text("mac_before"), line.text("mac_after"), line.text("group"),
                line.list("mcast_macs"));
    }
}

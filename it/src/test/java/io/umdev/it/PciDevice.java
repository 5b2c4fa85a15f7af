package io.umdev.it;

import java.util.List;
import java.util.Optional;

/**
 * A PCI function as the guest saw it in sysfs: IDs, class, BARs (from {@code resource}), the capability
 * lists walked in config space, and the driver bound to it.
 */
public record PciDevice(
        String slot,
        int vendor,
        int device,
        int subsystemVendor,
        int subsystemDevice,
        int classCode,
        int revision,
        int irq,
        Optional<String> driver,
        List<Bar> bars,
        List<Capability> capabilities,
        List<Capability> extendedCapabilities) {

    public static final int VENDOR_INTEL = 0x8086;
    /** Red Hat / virtio vendor ID. */
    public static final int VENDOR_VIRTIO = 0x1af4;
    public static final int CAP_VENDOR_SPECIFIC = 0x09;
    public static final int CAP_MSIX = 0x11;
    private static final int CLASS_BASE_SHIFT = 16;
    private static final int CLASS_SUB_SHIFT = 8;

    public PciDevice {
        bars = List.copyOf(bars);
        capabilities = List.copyOf(capabilities);
        extendedCapabilities = List.copyOf(extendedCapabilities);
    }

    static PciDevice from(ResultLine line) {
        return new PciDevice(
                line.text("slot"),
                line.intNumber("vendor"),
                line.intNumber("device"),
                line.intNumber("subsys_vendor"),
                line.intNumber("subsys_device"),
                line.intNumber("class"),
                line.intNumber("revision"),
                line.intNumber("irq"),
                line.optionalText("driver"),
                line.list("bars").stream().map(bar -> Bar.parse(line, bar)).toList(),
                line.list("caps").stream().map(cap -> Capability.parse(line, cap)).toList(),
                line.list("ecaps").stream().map(cap -> Capability.parse(line, cap)).toList());
    }

    /** The base class byte, e.g. 0x01 mass storage, 0x02 network, 0x06 bridge. */
    public int baseClass() {
        return classCode >>> CLASS_BASE_SHIFT;
    }

    /** Base class and subclass, e.g. 0x0600 host bridge. */
    public int classAndSubclass() {
        return classCode >>> CLASS_SUB_SHIFT;
    }

    public boolean hasCapability(int id) {
        return capabilities.stream().anyMatch(capability -> capability.id() == id);
    }

    public long capabilityCount(int id) {
        return capabilities.stream().filter(capability -> capability.id() == id).count();
    }

    public Optional<Bar> bar(String index) {
        return bars.stream().filter(bar -> bar.index().equals(index)).findFirst();
    }

    @Override
    public String toString() {
        return "%s %04x:%04x class %06x driver %s".formatted(slot, vendor, device, classCode, driver.orElse("-"));
    }

    /** A populated BAR (index 0-5) or the expansion ROM (index "rom"). */
    public record Bar(String index, BarType type, boolean prefetchable, long address, long size) {

        private static final int FIELDS = 4;
        private static final String PREFETCH_SUFFIX = "p";

        /** {@code <index>:<type>[p]:<address>:<size>}, e.g. {@code 4:mem64p:0xfebf8000:0x4000}. */
        static Bar parse(ResultLine line, String text) {
            String[] parts = text.split(":");
            if (parts.length != FIELDS) {
                throw new MalformedResultException("BAR '" + text + "' is not index:type:address:size in: " + line);
            }
            boolean prefetchable = parts[1].endsWith(PREFETCH_SUFFIX);
            String type = prefetchable ? parts[1].substring(0, parts[1].length() - 1) : parts[1];
            return new Bar(parts[0], BarType.parse(line, type), prefetchable,
                    line.parseNumber("bars", parts[2]), line.parseNumber("bars", parts[3]));
        }
    }

    public enum BarType {
        IO, MEM32, MEM64, ROM;

        static BarType parse(ResultLine line, String text) {
            for (BarType type : values()) {
                if (type.name().equalsIgnoreCase(text)) {
                    return type;
                }
            }
            throw new MalformedResultException("unknown BAR type '" + text + "' in: " + line);
        }
    }

    /** A capability: its ID and where it sits in config space. */
    public record Capability(int id, int offset) {

        /** {@code <id>@<offset>}, both hexadecimal, e.g. {@code 0x11@0x98}. */
        static Capability parse(ResultLine line, String text) {
            int at = text.indexOf('@');
            if (at <= 0) {
                throw new MalformedResultException("capability '" + text + "' is not id@offset in: " + line);
            }
            return new Capability(
                    Math.toIntExact(line.parseNumber("caps", text.substring(0, at))),
                    Math.toIntExact(line.parseNumber("caps", text.substring(at + 1))));
        }

        @Override
        public String toString() {
            return "0x%02x@0x%02x".formatted(id, offset);
        }
    }
}

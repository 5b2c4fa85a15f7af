package io.umdev.mdev;

import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A 48-bit Ethernet address, the typed value of a {@link AttributeSpec.Kind#MAC} attribute.
 *
 * @param value the address in the low 48 bits, first octet most significant
 */
public record MacAddress(long value) {
    private static final Pattern FORM = Pattern.compile("[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}");
    private static final long MASK = (1L << 48) - 1;

    public MacAddress {
        if ((value & ~MASK) != 0) {
            throw new IllegalArgumentException("a MAC address has 48 bits: 0x" + Long.toHexString(value));
        }
    }

    /** Parses {@code aa:bb:cc:dd:ee:ff} (or with dashes); null if it is not of that form. */
    static MacAddress parseOrNull(String text) {
        if (!FORM.matcher(text).matches()) {
            return null;
        }
        return new MacAddress(HexFormat.fromHexDigitsToLong(text.replaceAll("[:-]", "")));
    }

    public static MacAddress parse(String text) {
        MacAddress mac = parseOrNull(text);
        if (mac == null) {
            throw new IllegalArgumentException("not a MAC address (aa:bb:cc:dd:ee:ff): '" + text + "'");
        }
        return mac;
    }

    /** The six octets, first on the wire first. */
    public byte[] octets() {
        byte[] octets = new byte[6];
        for (int i = 0; i < 6; i++) {
            octets[i] = (byte) (value >>> (8 * (5 - i)));
        }
        return octets;
    }

    public boolean isMulticast() {
        return ((value >>> 40) & 1) != 0;
    }

    public boolean isZero() {
        return value == 0;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(17);
        HexFormat hex = HexFormat.of();
        for (byte b : octets()) {
            if (!s.isEmpty()) {
                s.append(':');
            }
            s.append(hex.toHexDigits(b));
        }
        return s.toString();
    }
}

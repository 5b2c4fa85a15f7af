package io.umdev.vfiouser.protocol;

import io.umdev.vfiouser.protocol.RegionCapability.Area;
import io.umdev.vfiouser.protocol.RegionCapability.RegionType;
import io.umdev.vfiouser.protocol.RegionCapability.SparseMmap;
import io.umdev.vfiouser.protocol.RegionCapability.Unknown;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;

/** Encoding and decoding of region-info capability chains. */
public final class RegionCapabilities {
    /** A chain longer than this is treated as malformed. */
    public static final int MAX_CHAIN_LENGTH = 64;

    static final VarHandle ID = Wire.fieldAt(RegionCapability.HEADER, "id");
    static final VarHandle VERSION = Wire.fieldAt(RegionCapability.HEADER, "version");
    static final VarHandle NEXT = Wire.fieldAt(RegionCapability.HEADER, "next");
    static final VarHandle NR_AREAS = Wire.fieldAt(RegionCapability.SparseMmap.BODY, "nr_areas");
    static final VarHandle RESERVED = Wire.fieldAt(RegionCapability.SparseMmap.BODY, "reserved");
    static final VarHandle AREA_OFFSET = Wire.fieldAt(RegionCapability.SparseMmap.AREA, "offset");
    static final VarHandle AREA_SIZE = Wire.fieldAt(RegionCapability.SparseMmap.AREA, "size");
    static final VarHandle TYPE = Wire.fieldAt(RegionCapability.RegionType.BODY, "type");
    static final VarHandle SUBTYPE = Wire.fieldAt(RegionCapability.RegionType.BODY, "subtype");

    static void header(MemorySegment info, long at, int id, int version, long next) {
        ID.set(info, at, (short) id);
        VERSION.set(info, at, (short) version);
        NEXT.set(info, at, (int) next);
    }

    static void requireBody(MemorySegment info, long body, long size, long limit) throws ProtocolException {
        if (body + size > Math.min(limit, info.byteSize())) {
            throw ProtocolException.invalid("region capability body at %d overruns its space", body);
        }
    }

    private RegionCapabilities() {
    }

    /** Bytes a chain takes. */
    public static long chainSize(List<? extends RegionCapability> chain) {
        long total = 0;
        for (RegionCapability c : chain) {
            total += c.encodedSize();
        }
        return total;
    }

    /** Writes a chain starting at {@code first} (an offset from the region info's start). */
    public static void encodeChain(List<? extends RegionCapability> chain, MemorySegment info, long first) {
        long at = first;
        for (int i = 0; i < chain.size(); i++) {
            RegionCapability c = chain.get(i);
            long next = i + 1 < chain.size() ? at + c.encodedSize() : 0;
            c.encode(info, at, next);
            at += c.encodedSize();
        }
    }

    /**
     * Reads the chain of a region-info reply. Offsets must move forward and stay inside {@code info},
     * so a hostile chain can neither loop nor read outside the message.
     */
    public static List<RegionCapability> decodeChain(MemorySegment info, long first) throws ProtocolException {
        List<RegionCapability> chain = new ArrayList<>();
        long at = first;
        long minimum = RegionInfoPayload.LAYOUT.byteSize();
        while (at != 0) {
            if (chain.size() == MAX_CHAIN_LENGTH) {
                throw ProtocolException.invalid("region capability chain longer than %d", MAX_CHAIN_LENGTH);
            }
            if (at < minimum || at > info.byteSize() - RegionCapability.HEADER.byteSize()) {
                throw ProtocolException.invalid("region capability at offset %d outside the %d-byte reply",
                        at, info.byteSize());
            }
            int id = Short.toUnsignedInt((short) ID.get(info, at));
            int version = Short.toUnsignedInt((short) VERSION.get(info, at));
            long next = Integer.toUnsignedLong((int) NEXT.get(info, at));
            long body = at + RegionCapability.HEADER.byteSize();
            // The body ends at the next capability, and never beyond the reply even if next points past it.
            long limit = next != 0 ? Math.min(next, info.byteSize()) : info.byteSize();
            if (next != 0 && next <= at) {
                throw ProtocolException.invalid("region capability chain goes backwards (%d -> %d)", at, next);
            }
            switch (id) {
                case RegionCapability.ID_SPARSE_MMAP -> {
                    requireBody(info, body, SparseMmap.BODY.byteSize(), limit);
                    long count = Integer.toUnsignedLong((int) NR_AREAS.get(info, body));
                    long areasAt = body + SparseMmap.BODY.byteSize();
                    if (count > (limit - areasAt) / SparseMmap.AREA.byteSize()) {
                        throw ProtocolException.invalid("sparse mmap capability claims %d areas", count);
                    }
                    List<Area> areas = new ArrayList<>();
                    for (long i = 0; i < count; i++) {
                        long a = areasAt + i * SparseMmap.AREA.byteSize();
                        areas.add(new Area((long) AREA_OFFSET.get(info, a), (long) AREA_SIZE.get(info, a)));
                    }
                    chain.add(new SparseMmap(areas));
                }
                case RegionCapability.ID_TYPE -> {
                    requireBody(info, body, RegionType.BODY.byteSize(), limit);
                    chain.add(new RegionType((int) TYPE.get(info, body), (int) SUBTYPE.get(info, body)));
                }
                default -> chain.add(new Unknown(id, version));
            }
            minimum = body;
            at = next;
        }
        return chain;
    }
}

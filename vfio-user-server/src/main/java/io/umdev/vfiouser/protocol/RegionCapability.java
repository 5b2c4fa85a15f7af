package io.umdev.vfiouser.protocol;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.VarHandle;
import java.util.List;

/**
 * A region-info capability (struct vfio_info_cap_header and what follows it). Capabilities form a
 * chain after the region info; each header's {@code next} is an offset from the start of the region
 * info, 0 ending the chain.
 */
public sealed interface RegionCapability {
    StructLayout HEADER = MemoryLayout.structLayout(
            JAVA_SHORT_UNALIGNED.withName("id"),
            JAVA_SHORT_UNALIGNED.withName("version"),
            JAVA_INT_UNALIGNED.withName("next"));
    /** VFIO_REGION_INFO_CAP_SPARSE_MMAP. */
    int ID_SPARSE_MMAP = 1;
    /** VFIO_REGION_INFO_CAP_TYPE. */
    int ID_TYPE = 2;
    /** Bytes this capability takes, header included. */
    long encodedSize();

    /** Writes this capability's header and body at {@code at}; {@code next} links the chain. */
    void encode(MemorySegment info, long at, long next);

    /** Which parts of a mappable region the client may mmap; the rest it must access by message. */
    record SparseMmap(List<Area> areas) implements RegionCapability {
        public static final StructLayout BODY = MemoryLayout.structLayout(
                JAVA_INT_UNALIGNED.withName("nr_areas"),
                JAVA_INT_UNALIGNED.withName("reserved"));
        public static final StructLayout AREA = MemoryLayout.structLayout(
                JAVA_LONG_UNALIGNED.withName("offset"),
                JAVA_LONG_UNALIGNED.withName("size"));
        static final int VERSION = 1;

        public SparseMmap {
            areas = List.copyOf(areas);
        }

        @Override
        public long encodedSize() {
            return HEADER.byteSize() + BODY.byteSize() + areas.size() * AREA.byteSize();
        }

        @Override
        public void encode(MemorySegment info, long at, long next) {
            RegionCapabilities.header(info, at, ID_SPARSE_MMAP, VERSION, next);
            long body = at + HEADER.byteSize();
            RegionCapabilities.NR_AREAS.set(info, body, areas.size());
            RegionCapabilities.RESERVED.set(info, body, 0);
            long area = body + BODY.byteSize();
            for (Area a : areas) {
                RegionCapabilities.AREA_OFFSET.set(info, area, a.offset());
                RegionCapabilities.AREA_SIZE.set(info, area, a.size());
                area += AREA.byteSize();
            }
        }
    }

    /** One mmap-able window, relative to the region's mmap offset. */
    record Area(long offset, long size) {
    }

    /** A device-specific region's type and subtype (VFIO_REGION_TYPE_*). */
    record RegionType(int type, int subtype) implements RegionCapability {
        public static final StructLayout BODY = MemoryLayout.structLayout(
                JAVA_INT_UNALIGNED.withName("type"),
                JAVA_INT_UNALIGNED.withName("subtype"));
        static final int VERSION = 1;

        @Override
        public long encodedSize() {
            return HEADER.byteSize() + BODY.byteSize();
        }

        @Override
        public void encode(MemorySegment info, long at, long next) {
            RegionCapabilities.header(info, at, ID_TYPE, VERSION, next);
            RegionCapabilities.TYPE.set(info, at + HEADER.byteSize(), type);
            RegionCapabilities.SUBTYPE.set(info, at + HEADER.byteSize(), subtype);
        }
    }

    /** A capability this codec does not interpret, kept so a client can see it was there. */
    record Unknown(int id, int version) implements RegionCapability {
        @Override
        public long encodedSize() {
            return HEADER.byteSize();
        }

        @Override
        public void encode(MemorySegment info, long at, long next) {
            RegionCapabilities.header(info, at, id, version, next);
        }
    }
}

package io.umdev.vfiouser.server;

import static io.umdev.vfiouser.server.FuzzConnection.ERROR;
import static io.umdev.vfiouser.server.FuzzConnection.HEADER;
import static io.umdev.vfiouser.server.FuzzConnection.NO_REPLY;
import static io.umdev.vfiouser.server.FuzzConnection.TYPE_REPLY;

import io.umdev.vfiouser.testing.ScratchDevice;
import java.io.FileDescriptor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Makes the messages the fuzz test sends: well-formed commands of every kind, the same with fields
 * replaced by awkward values ("structured"), byte-level mutations of well-formed commands, random
 * bytes, replies nobody asked for, oversized messages, descriptors of every sort attached anywhere, and
 * the few things that break the byte stream for good. Everything comes from one seeded random source.
 */
final class Fuzzer {
    static final int VERSION = 1;
    static final int DMA_MAP = 2;
    static final int DMA_UNMAP = 3;
    static final int GET_INFO = 4;
    static final int REGION_INFO = 5;
    static final int IO_FDS = 6;
    static final int IRQ_INFO = 7;
    static final int SET_IRQS = 8;
    static final int REGION_READ = 9;
    static final int REGION_WRITE = 10;
    static final int DMA_READ = 11;
    static final int DMA_WRITE = 12;
    static final int RESET = 13;
    static final int WRITE_MULTI = 15;
    static final int FEATURE = 16;
    static final int MIG_READ = 17;
    static final int MIG_WRITE = 18;
    private static final int MAX_COMMAND = 20;

    private static final int DATA_NONE = 0x1;
    private static final int DATA_BOOL = 0x2;
    private static final int DATA_EVENTFD = 0x4;
    private static final int ACTION_MASK = 0x8;
    private static final int ACTION_UNMASK = 0x10;
    private static final int ACTION_TRIGGER = 0x20;

    /** Where the fuzzer maps: 16 slots 2 MiB apart, so some maps overlap and some do not. */
    private static final long IOVA_BASE = 0x1000_0000L;
    private static final long SLOT = 0x20_0000L;
    private static final int SLOTS = 16;

    private static final int[] INTS = {0, 1, 2, 3, 4, 7, 8, 9, 12, 15, 16, 17, 19, 20, 21, 23, 24, 31, 32, 33, 40, 63, 64,
        255, 256, 4095, 4096, 4097, 0x7fff, 0x8000, 0xffff, 0x10000, 0x10_0000, 0x10_0040, 0x7fff_ffff, 0x8000_0000,
        0xffff_fff0, 0xffff_fffe, 0xffff_ffff};
    private static final long[] LONGS = {0, 1, 8, 0xfff, 0x1000, 0x1001, 0x10000, 0x10_0000, 0xffff_f000L, 0xffff_ffffL,
        0x1_0000_0000L, 0x7fff_ffff_ffff_f000L, 0x7fff_ffff_ffff_ffffL, 0x8000_0000_0000_0000L,
        0xffff_ffff_ffff_f000L, 0xffff_ffff_ffff_fff8L, -1L, IOVA_BASE, IOVA_BASE - 0x1000, IOVA_BASE + SLOT};
    private static final byte[] BYTES = {0, 1, 0x7f, (byte) 0x80, (byte) 0xff, 0x10, 0x20, 0x21};

    /**
     * One message to send.
     *
     * @param mustSucceed a well-formed command the device always accepts, sent untouched
     * @param breaks the bytes do not frame as their header says: the stream is out of step from here
     */
    record Msg(byte[] bytes, FileDescriptor[] fds, boolean mustSucceed, boolean breaks, String kind) {
        int id() {
            return Short.toUnsignedInt(ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).getShort(0));
        }

        int command() {
            return Short.toUnsignedInt(ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).getShort(2));
        }

        int flags() {
            return ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).getInt(8);
        }

        /** A command (not a reply) without NO_REPLY: the server owes it exactly one reply. */
        boolean wantsReply() {
            return !breaks && (flags() & FuzzConnection.TYPE_MASK) != TYPE_REPLY && (flags() & NO_REPLY) == 0;
        }

        /** The count of a REGION_READ, or -1. */
        long readCount() {
            if (command() != REGION_READ || bytes.length < HEADER + 16) {
                return -1;
            }
            return Integer.toUnsignedLong(ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).getInt(HEADER + 12));
        }

        @Override
        public String toString() {
            return hex();
        }

        String hex() {
            return kind + " " + bytes.length + "B fds=" + fds.length + " : "
                    + HexFormat.ofDelimiter(" ").formatHex(bytes, 0, Math.min(bytes.length, 64))
                    + (bytes.length > 64 ? " ..." : "");
        }
    }

    /** A payload with the descriptors that belong to it and whether the device must accept it. */
    private record Built(byte[] payload, FileDescriptor[] fds, boolean mustSucceed) {
    }

    private final SplittableRandom r;
    private final FuzzFds pool;
    private final int maxMessageSize;
    /** Ranges this connection tried to map: {iova, size}. */
    private final List<long[]> maps = new ArrayList<>();
    private int nextId;
    private int clientMaxFds;
    private boolean writeMultiple;
    /** Probability that a field takes an awkward value instead of the right one. */
    private double p;
    /** Whether any field of the message being built took an awkward value. */
    private boolean touched;

    Fuzzer(SplittableRandom random, FuzzFds pool, int maxMessageSize) {
        this.r = random;
        this.pool = pool;
        this.maxMessageSize = maxMessageSize;
    }

    SplittableRandom random() {
        return r;
    }

    /** A new connection that announced these capabilities. */
    void newConnection(int maxFds, boolean multiple) {
        maps.clear();
        nextId = r.nextInt(0x10000);
        clientMaxFds = maxFds;
        writeMultiple = multiple;
    }

    private int id() {
        int id = nextId;
        nextId = (nextId + 1) & 0xffff;
        return id;
    }

    // ---- what to send next ------------------------------------------------------------------------

    /** The next message or short sequence of messages of the main phase. */
    List<Msg> next() {
        int roll = r.nextInt(1000);
        if (roll < 150) {
            return List.of(attachStrayFds(command(randomCommand(), 0, false, "valid")));
        } else if (roll < 450) {
            return List.of(attachStrayFds(command(randomCommand(), 0.05 + 0.4 * r.nextDouble(), true, "structured")));
        } else if (roll < 750) {
            return List.of(attachStrayFds(mutated(command(randomCommand(), 0, false, "mutated"))));
        } else if (roll < 810) {
            return List.of(attachStrayFds(randomBytes()));
        } else if (roll < 860) {
            return List.of(reply());
        } else if (roll < 960) {
            return dmaScenario();
        } else if (roll < 995) {
            return List.of(attachStrayFds(command(VERSION, 0.3 * r.nextDouble(), r.nextBoolean(), "version-again")));
        } else if (roll < 998) {
            return List.of(oversized());
        }
        return List.of(breaker());
    }

    private int randomCommand() {
        int roll = r.nextInt(100);
        if (roll < 90) {
            return r.nextInt(MAX_COMMAND + 1);
        }
        return roll < 95 ? 14 : r.nextInt(0x10000);
    }

    /** The VERSION a connection opens with, announcing the given capabilities. */
    Msg version(int maxFds, long maxXfer, boolean multiple, boolean withJson) {
        touched = false;
        p = 0;
        String json = withJson ? versionJson(maxFds, maxXfer, multiple) : null;
        return new Msg(frame(id(), VERSION, 0, 0, versionPayload(0, 0, json, true)), new FileDescriptor[0], true, false,
                "version");
    }

    /** The first message of a connection whose negotiation is fuzzed (null: hang up without a word). */
    Msg firstMessage() {
        int roll = r.nextInt(100);
        if (roll < 5) {
            return null;
        } else if (roll < 40) {
            return mutated(version(16, 1 << 20, true, true));
        } else if (roll < 65) {
            return attachStrayFds(command(VERSION, 0.1 + 0.5 * r.nextDouble(), true, "version-fuzz"));
        } else if (roll < 75) {
            return attachFds(version(16, 1 << 20, true, true), pool.any(r, 1 + r.nextInt(3)));
        } else if (roll < 90) {
            return attachStrayFds(command(randomCommand(), 0.2, true, "not-version"));
        } else if (roll < 95) {
            return reply();
        }
        return breaker();
    }

    // ---- well-formed commands, optionally with awkward fields ---------------------------------------

    /** Command {@code code}, every field awkward with probability {@code fieldP}; header flags fuzzed too if asked. */
    Msg command(int code, double fieldP, boolean fuzzHeader, String kind) {
        p = fieldP;
        touched = false;
        Built b = build(code);
        int flags = 0;
        int error = 0;
        if (fuzzHeader) {
            int roll = r.nextInt(100);
            if (roll < 10) {
                flags = NO_REPLY;
            } else if (roll < 25) {
                flags = new int[] {TYPE_REPLY, ERROR, TYPE_REPLY | ERROR, r.nextInt(2, 16), 0x40, 0x80, 0x100, r.nextInt(),
                    NO_REPLY | ERROR, NO_REPLY | TYPE_REPLY, 0x8000_0000}[r.nextInt(11)];
            }
            if (r.nextInt(20) == 0) {
                error = interestingInt();
            }
        } else if (r.nextInt(10) == 0) {
            flags = NO_REPLY;
        }
        byte[] payload = b.payload();
        if (fieldP > 0 && r.nextDouble() < fieldP / 2) {
            payload = r.nextBoolean() ? Arrays.copyOf(payload, r.nextInt(payload.length + 1))
                    : Arrays.copyOf(payload, payload.length + 1 + r.nextInt(64));
            touched = true;
        }
        boolean must = b.mustSucceed() && !touched && (flags & ~NO_REPLY) == 0 && error == 0;
        return new Msg(frame(id(), code, flags, error, payload), b.fds(), must, false, kind + ":" + code);
    }

    private Built build(int code) {
        return switch (code) {
            case VERSION -> new Built(versionFuzz(), none(), false);
            case DMA_MAP -> dmaMap();
            case DMA_UNMAP -> dmaUnmap();
            case GET_INFO -> new Built(ints(i32(16), i32(0), i32(0), i32(0)), none(), true);
            case REGION_INFO -> regionInfo();
            case IO_FDS -> ioFds();
            case IRQ_INFO -> new Built(ints(i32(16), i32(0), i32(r.nextInt(ScratchDevice.NUM_IRQS)), i32(0)), none(), true);
            case SET_IRQS -> setIrqs();
            case REGION_READ -> regionRead();
            case REGION_WRITE -> regionWrite();
            case DMA_READ, DMA_WRITE -> dmaAccess(code);
            case RESET -> {
                byte[] payload = p > 0 && r.nextInt(3) == 0 ? randomBytes(r.nextInt(1, 9)) : new byte[0];
                yield new Built(payload, none(), payload.length == 0);
            }
            case WRITE_MULTI -> writeMulti();
            case FEATURE -> feature();
            case MIG_READ -> migRead();
            case MIG_WRITE -> migWrite();
            default -> new Built(randomBytes(r.nextInt(65)), none(), false);
        };
    }

    private String versionJson(int maxFds, long maxXfer, boolean multiple) {
        return "{\"capabilities\":{\"max_msg_fds\":" + maxFds + ",\"max_data_xfer_size\":" + maxXfer
                + ",\"pgsizes\":4096,\"max_dma_maps\":65535" + (multiple ? ",\"write_multiple\":true" : "")
                + ",\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":134217728}}}";
    }

    private byte[] versionPayload(int major, int minor, String json, boolean nul) {
        byte[] text = json == null ? new byte[0] : json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = buffer(4 + text.length + (json != null && nul ? 1 : 0));
        b.putShort((short) major).putShort((short) minor).put(text);
        return b.array();
    }

    private byte[] versionFuzz() {
        int major = p > 0 && r.nextInt(4) == 0 ? interestingInt() : 0;
        int minor = p > 0 && r.nextInt(4) == 0 ? interestingInt() : 0;
        String json = switch (p > 0 ? r.nextInt(14) : 0) {
            case 0, 1, 2, 3 -> versionJson(16, 1 << 20, true);
            case 4 -> versionJson(interestingInt(), interestingLong(), r.nextBoolean());
            case 5 -> null;
            case 6 -> "{}";
            case 7 -> "{\"capabilities\":" + "[".repeat(r.nextInt(1, 3000));
            case 8 -> "{\"capabilities\":{\"max_msg_fds\":\"sixteen\",\"pgsizes\":-4096}}";
            case 9 -> "{\"capabilities\":{\"max_data_xfer_size\":1e400,\"write_multiple\":1}}";
            case 10 -> "{\"capabilities\":{\"twin_socket\":{\"supported\":true},\"migration\":[]}}";
            case 11 -> "\u00ff\u0000\ud800garbage";
            case 12 -> "{\"a\":" + "{\"a\":".repeat(r.nextInt(1, 2000)) + "1" + "}".repeat(r.nextInt(1, 2000));
            default -> "{\"capabilities\":{\"max_msg_fds\":99999999999999999999999}}";
        };
        return versionPayload(major, minor, json, p == 0 || r.nextInt(8) != 0);
    }

    private Built dmaMap() {
        long size = 4096L << r.nextInt(9);
        long iova = IOVA_BASE + r.nextInt(SLOTS) * SLOT + (r.nextInt(4) == 0 ? 4096L * r.nextInt(256) : 0);
        FileDescriptor[] fds;
        long offset = 0;
        int mode = r.nextInt(10);
        if (mode < 6) {
            FuzzFds.Entry memory = pool.memfd(r);
            fds = new FileDescriptor[] {memory.fd()};
            if (memory.size() > size) {
                offset = 4096L * r.nextLong((memory.size() - size) / 4096 + 1);
            }
        } else {
            fds = none();
        }
        int flags = new int[] {3, 3, 3, 1, 2}[r.nextInt(5)];
        if (p > 0 && r.nextDouble() < p) {
            fds = pool.any(r, r.nextInt(4));
            touched = true;
        }
        byte[] payload = buffer(32).putInt(i32(32)).putInt(i32(flags)).putLong(i64(offset)).putLong(i64(iova))
                .putLong(i64(size)).array();
        ByteBuffer b = ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder());
        maps.add(new long[] {b.getLong(16), b.getLong(24)});
        if (maps.size() > 32) {
            maps.remove(0);
        }
        return new Built(payload, fds, false);
    }

    private Built dmaUnmap() {
        long iova;
        long size;
        int flags = 0;
        if (r.nextInt(10) == 0) {
            flags = 2;
            iova = 0;
            size = 0;
        } else if (!maps.isEmpty() && r.nextInt(5) != 0) {
            long[] m = maps.get(r.nextInt(maps.size()));
            iova = m[0];
            size = m[1];
        } else {
            iova = IOVA_BASE + r.nextInt(SLOTS) * SLOT;
            size = 4096L << r.nextInt(9);
        }
        return new Built(buffer(24).putInt(i32(24)).putInt(i32(flags)).putLong(i64(iova)).putLong(i64(size)).array(),
                none(), false);
    }

    private Built regionInfo() {
        byte[] payload = buffer(32).putInt(i32(r.nextBoolean() ? 32 : 256)).putInt(i32(0))
                .putInt(i32(r.nextInt(ScratchDevice.NUM_REGIONS))).putInt(i32(0)).putLong(i64(0)).putLong(i64(0)).array();
        return new Built(payload, none(), true);
    }

    private Built ioFds() {
        int index = r.nextInt(4) == 0 ? 0 : r.nextInt(ScratchDevice.NUM_REGIONS);
        int argsz = new int[] {16, 16 + 80, 4096}[r.nextInt(3)];
        byte[] payload = ints(i32(argsz), i32(0), i32(index), i32(0));
        // BAR0 has two doorbell fds: a client that takes fewer in one message is refused (E2BIG).
        return new Built(payload, none(), index != 0 || clientMaxFds >= 2);
    }

    private Built setIrqs() {
        int template = r.nextInt(8);
        int index = ScratchDevice.MSIX;
        int start = r.nextInt(ScratchDevice.MSIX_VECTORS);
        int count = 1 + r.nextInt(Math.min(ScratchDevice.MSIX_VECTORS - start, 16));
        int flags;
        byte[] data = new byte[0];
        FileDescriptor[] fds = none();
        switch (template) {
            case 0, 1 -> {
                flags = DATA_EVENTFD | ACTION_TRIGGER;
                fds = pool.eventfds(count);
            }
            case 2 -> flags = DATA_EVENTFD | ACTION_TRIGGER;
            case 3 -> {
                flags = DATA_NONE | ACTION_TRIGGER;
                index = r.nextInt(ScratchDevice.NUM_IRQS);
                start = 0;
                count = 0;
            }
            case 4 -> {
                flags = DATA_BOOL | new int[] {ACTION_TRIGGER, ACTION_MASK, ACTION_UNMASK}[r.nextInt(3)];
                if (r.nextBoolean()) {
                    index = ScratchDevice.INTX;
                    start = 0;
                    count = 1;
                }
                data = new byte[count];
                for (int i = 0; i < count; i++) {
                    data[i] = (byte) r.nextInt(2);
                }
            }
            case 5 -> {
                flags = DATA_NONE | new int[] {ACTION_TRIGGER, ACTION_MASK, ACTION_UNMASK}[r.nextInt(3)];
                if (r.nextBoolean()) {
                    index = ScratchDevice.INTX;
                    start = 0;
                    count = 1;
                }
            }
            case 6 -> {
                flags = DATA_EVENTFD | (r.nextBoolean() ? ACTION_MASK : ACTION_UNMASK);
                if (r.nextBoolean()) {
                    index = ScratchDevice.INTX;
                    start = 0;
                    count = 1;
                }
                fds = pool.eventfds(count);
            }
            default -> {
                flags = DATA_EVENTFD | ACTION_TRIGGER;
                index = new int[] {1, 3, 4}[r.nextInt(3)];
                start = 0;
                count = 1;
                fds = pool.eventfds(1);
            }
        }
        if (p > 0 && r.nextDouble() < p) {
            int roll = r.nextInt(4);
            fds = switch (roll) {
                case 0 -> pool.eventfds(Math.max(0, count + r.nextInt(-2, 4)));
                case 1 -> pool.any(r, count);
                case 2 -> pool.eventfds(r.nextInt(17, 30));
                default -> none();
            };
            touched = true;
        }
        ByteBuffer b = buffer(20 + data.length);
        b.putInt(i32(20 + data.length)).putInt(i32(flags)).putInt(i32(index)).putInt(i32(start)).putInt(i32(count)).put(data);
        return new Built(b.array(), fds, true);
    }

    private static final long[] REGION_SIZES = {ScratchDevice.BAR0_SIZE, ScratchDevice.BAR1_SIZE, ScratchDevice.CONFIG_SIZE};
    private static final int[] REGIONS = {ScratchDevice.BAR0, ScratchDevice.BAR1, ScratchDevice.CONFIG};

    private Built regionRead() {
        int which = r.nextInt(3);
        long size = REGION_SIZES[which];
        int count = accessCount(size);
        long offset = r.nextLong(size - count + 1);
        return new Built(buffer(16).putLong(i64(offset)).putInt(i32(REGIONS[which])).putInt(i32(count)).array(), none(), true);
    }

    private int accessCount(long size) {
        int roll = r.nextInt(10);
        if (roll < 6) {
            return new int[] {1, 2, 4, 8}[r.nextInt(4)];
        }
        return roll < 9 ? 1 + r.nextInt((int) Math.min(size, 64)) : 1 + r.nextInt((int) size);
    }

    private Built regionWrite() {
        int which = r.nextInt(3);
        long offset;
        byte[] data;
        if (which == 0 && r.nextInt(3) == 0) {
            long[] registers = {ScratchDevice.REG_SRC, ScratchDevice.REG_DST, ScratchDevice.REG_LEN, ScratchDevice.REG_GO,
                ScratchDevice.REG_STATUS, ScratchDevice.REG_IRQ};
            offset = registers[r.nextInt(registers.length)];
            data = buffer(8).putLong(registerValue(offset)).array();
        } else {
            long size = REGION_SIZES[which];
            int count = accessCount(size);
            offset = r.nextLong(size - count + 1);
            data = randomBytes(count);
        }
        return regionWrite(REGIONS[which], offset, data);
    }

    private Built regionWrite(int region, long offset, byte[] data) {
        boolean go = region == ScratchDevice.BAR0 && offset == ScratchDevice.REG_GO && data.length == 8;
        long mode = go ? ByteBuffer.wrap(data).order(ByteOrder.nativeOrder()).getLong() : 0;
        ByteBuffer b = buffer(16 + data.length);
        b.putLong(i64(offset)).putInt(i32(region)).putInt(i32(data.length)).put(data);
        return new Built(b.array(), none(), !go || mode == ScratchDevice.GO_INLINE || mode == ScratchDevice.GO_DEVICE_THREAD);
    }

    private long registerValue(long register) {
        if (register == ScratchDevice.REG_SRC || register == ScratchDevice.REG_DST) {
            return dmaAddress();
        } else if (register == ScratchDevice.REG_LEN) {
            return dmaLength();
        } else if (register == ScratchDevice.REG_GO) {
            return goMode();
        } else if (register == ScratchDevice.REG_IRQ) {
            return r.nextInt(4) == 0 ? interestingLong() : r.nextInt(ScratchDevice.MSIX_VECTORS + 2);
        }
        return interestingLong();
    }

    private long goMode() {
        int roll = r.nextInt(10);
        return roll < 6 ? ScratchDevice.GO_INLINE : roll < 9 ? ScratchDevice.GO_DEVICE_THREAD : interestingLong();
    }

    /** An address near something this connection mapped, or anywhere. */
    private long dmaAddress() {
        int roll = r.nextInt(10);
        if (roll < 6 && !maps.isEmpty()) {
            long[] m = maps.get(r.nextInt(maps.size()));
            long span = Math.max(1, Math.min(m[1], 1 << 21));
            return m[0] + r.nextLong(-64, span + 64);
        } else if (roll < 8) {
            return IOVA_BASE + r.nextInt(SLOTS) * SLOT + r.nextInt(0x1000);
        }
        return interestingLong();
    }

    private long dmaLength() {
        int roll = r.nextInt(10);
        if (roll < 6) {
            return 1 + r.nextInt(r.nextBoolean() ? 64 : 8192);
        } else if (roll < 8) {
            return new long[] {0, 4096, 4097, ScratchDevice.BAR1_SIZE, ScratchDevice.BAR1_SIZE + 1, 1 << 20}[r.nextInt(6)];
        }
        return interestingLong();
    }

    /** SRC, DST, LEN, then GO: the device copies through whatever is (or is not) mapped. */
    private List<Msg> dmaScenario() {
        List<Msg> out = new ArrayList<>();
        if (r.nextInt(3) == 0) {
            out.add(command(DMA_MAP, 0, false, "scenario"));
        }
        long[] values = {dmaAddress(), dmaAddress(), dmaLength(), goMode()};
        long[] registers = {ScratchDevice.REG_SRC, ScratchDevice.REG_DST, ScratchDevice.REG_LEN, ScratchDevice.REG_GO};
        for (int i = 0; i < 4; i++) {
            p = 0;
            touched = false;
            Built b = regionWrite(ScratchDevice.BAR0, registers[i], buffer(8).putLong(values[i]).array());
            int flags = r.nextInt(10) == 0 ? NO_REPLY : 0;
            out.add(new Msg(frame(id(), REGION_WRITE, flags, 0, b.payload()), none(), b.mustSucceed(), false,
                    "scenario:" + REGION_WRITE));
        }
        if (r.nextInt(4) == 0) {
            out.add(command(DMA_UNMAP, 0, false, "scenario"));
        }
        return out;
    }

    private Built dmaAccess(int code) {
        long count = r.nextInt(4) == 0 ? interestingLong() : r.nextInt(64);
        byte[] data = code == DMA_WRITE ? randomBytes((int) Math.max(0, Math.min(count, 64))) : new byte[0];
        ByteBuffer b = buffer(16 + data.length);
        b.putLong(i64(dmaAddress())).putLong(i64(count)).put(data);
        return new Built(b.array(), none(), false);
    }

    private Built writeMulti() {
        int n = 1 + r.nextInt(8);
        ByteBuffer b = buffer(8 + n * 24);
        b.putLong(i64(n));
        for (int i = 0; i < n; i++) {
            boolean bar0 = r.nextBoolean();
            int count = 1 + r.nextInt(8);
            long offset = bar0 ? 0x40 + r.nextInt(0xc0 - count + 1) : r.nextInt((int) ScratchDevice.CONFIG_SIZE - count + 1);
            b.putLong(i64(offset)).putInt(i32(bar0 ? ScratchDevice.BAR0 : ScratchDevice.CONFIG)).putInt(i32(count))
                    .put(randomBytes(8));
        }
        return new Built(b.array(), none(), writeMultiple);
    }

    private Built feature() {
        int variant = r.nextInt(6);
        int feature = ScratchDevice.FEATURE_SCRATCH;
        int get = 1 << 16;
        int set = 1 << 17;
        int probe = 1 << 18;
        return switch (variant) {
            case 0 -> new Built(ints(i32(16), i32(feature | get)), none(), true);
            case 1 -> new Built(ints(i32(8), i32(feature | get | probe)), none(), true);
            case 2 -> new Built(buffer(16).putInt(i32(16)).putInt(i32(feature | set)).putLong(interestingLong()).array(),
                    none(), true);
            case 3 -> new Built(ints(i32(8), i32(feature | set | probe)), none(), true);
            case 4 -> new Built(ints(i32(16), i32(r.nextInt(2, 9) | get)), none(), false);
            default -> new Built(ints(i32(8), i32(feature | get)), none(), false);
        };
    }

    private Built migRead() {
        int size = r.nextInt(4097);
        return new Built(ints(i32(8 + size), i32(size)), none(), true);
    }

    private Built migWrite() {
        byte[] data = randomBytes(r.nextInt(257));
        ByteBuffer b = buffer(8 + data.length);
        b.putInt(i32(8)).putInt(i32(data.length)).put(data);
        return new Built(b.array(), none(), true);
    }

    // ---- byte-level fuzz --------------------------------------------------------------------------

    /** One to four mutations of a message; the size field is put right again unless the stream is to break. */
    Msg mutated(Msg m) {
        byte[] bytes = m.bytes().clone();
        int n = 1 + r.nextInt(4);
        for (int i = 0; i < n; i++) {
            bytes = mutate(bytes);
        }
        boolean breaks = r.nextInt(100) < 2;
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
        if (breaks) {
            long lie = bytes.length + (r.nextBoolean() ? -r.nextInt(1, Math.max(2, bytes.length - HEADER + 1))
                    : r.nextInt(1, 1 << 16));
            b.putInt(4, (int) Math.max(HEADER, lie));
            breaks = b.getInt(4) != bytes.length;
        } else {
            b.putInt(4, bytes.length);
        }
        return new Msg(bytes, m.fds(), false, breaks, m.kind().replaceFirst("^[a-z-]+", "mutated"));
    }

    private byte[] mutate(byte[] in) {
        byte[] bytes = in;
        int payload = bytes.length - HEADER;
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
        switch (r.nextInt(10)) {
            case 0 -> {
                int at = r.nextInt(bytes.length);
                bytes[at] ^= (byte) (1 << r.nextInt(8));
            }
            case 1 -> bytes[r.nextInt(bytes.length)] = r.nextInt(3) == 0 ? (byte) r.nextInt() : BYTES[r.nextInt(BYTES.length)];
            case 2 -> {
                if (payload >= 4) {
                    b.putInt(HEADER + (r.nextInt(payload - 3) & ~3), interestingInt());
                }
            }
            case 3 -> {
                if (payload >= 8) {
                    b.putLong(HEADER + (r.nextInt(payload - 7) & ~7), interestingLong());
                }
            }
            case 4 -> bytes = Arrays.copyOf(bytes, HEADER + r.nextInt(payload + 1));
            case 5 -> {
                int old = bytes.length;
                bytes = Arrays.copyOf(bytes, old + 1 + r.nextInt(64));
                for (int i = old; i < bytes.length; i++) {
                    bytes[i] = (byte) r.nextInt();
                }
            }
            case 6 -> {
                int at = HEADER + r.nextInt(payload + 1);
                byte[] insert = randomBytes(1 + r.nextInt(16));
                byte[] out = new byte[bytes.length + insert.length];
                System.arraycopy(bytes, 0, out, 0, at);
                System.arraycopy(insert, 0, out, at, insert.length);
                System.arraycopy(bytes, at, out, at + insert.length, bytes.length - at);
                bytes = out;
            }
            case 7 -> {
                if (payload > 0) {
                    int at = HEADER + r.nextInt(payload);
                    int len = 1 + r.nextInt(Math.min(16, bytes.length - at));
                    byte[] out = new byte[bytes.length - len];
                    System.arraycopy(bytes, 0, out, 0, at);
                    System.arraycopy(bytes, at + len, out, at, bytes.length - at - len);
                    bytes = out;
                }
            }
            case 8 -> {
                switch (r.nextInt(4)) {
                    case 0 -> b.putShort(0, (short) r.nextInt());
                    case 1 -> b.putShort(2, (short) (r.nextBoolean() ? r.nextInt(MAX_COMMAND + 1) : r.nextInt()));
                    case 2 -> b.putInt(8, b.getInt(8) ^ (1 << r.nextInt(32)));
                    default -> b.putInt(12, interestingInt());
                }
            }
            default -> {
                bytes = Arrays.copyOf(bytes, HEADER + 2 * payload);
                System.arraycopy(bytes, HEADER, bytes, HEADER + payload, payload);
            }
        }
        return bytes;
    }

    private Msg randomBytes() {
        int command = randomCommand();
        int flags = r.nextInt(4) == 0 ? r.nextInt() & ~TYPE_REPLY : r.nextInt(4) == 0 ? NO_REPLY : 0;
        return new Msg(frame(r.nextInt(0x10000), command, flags, r.nextInt(8) == 0 ? r.nextInt() : 0,
                randomBytes(r.nextInt(129))), none(), false, false, "random:" + command);
    }

    /** A reply nobody asked for, shaped like an answer to the server's DMA requests. */
    Msg reply() {
        int command = r.nextInt(10) < 7 ? (r.nextBoolean() ? DMA_READ : DMA_WRITE) : randomCommand();
        int flags = TYPE_REPLY;
        if (r.nextInt(5) == 0) {
            flags |= ERROR;
        }
        if (r.nextInt(10) == 0) {
            flags |= NO_REPLY;
        }
        if (r.nextInt(10) == 0) {
            flags |= 1 << r.nextInt(6, 32);
        }
        int id = r.nextInt(10) < 6 ? r.nextInt(32) : r.nextInt(0x10000);
        byte[] payload;
        if ((flags & ERROR) != 0 && r.nextBoolean()) {
            payload = new byte[0];
        } else if (r.nextInt(3) > 0) {
            long count = r.nextInt(4) == 0 ? interestingLong() : r.nextInt(65);
            int data = command == DMA_READ ? (int) Math.max(0, Math.min(count, 64)) : 0;
            payload = buffer(16 + data).putLong(dmaAddress()).putLong(count).put(randomBytes(data)).array();
        } else {
            payload = randomBytes(r.nextInt(48));
        }
        return attachStrayFds(new Msg(frame(id, command, flags, (flags & ERROR) != 0 ? interestingInt() : 0, payload),
                none(), false, false, "reply:" + command));
    }

    /** A message larger than the server accepts, sent whole: its payload must be skipped, the stream kept. */
    private Msg oversized() {
        int command = r.nextBoolean() ? REGION_WRITE : randomCommand();
        byte[] payload = new byte[maxMessageSize - HEADER + 1 + r.nextInt(4096)];
        if (command == REGION_WRITE) {
            ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder()).putLong(0x40).putInt(0).putInt(payload.length - 16);
        }
        int flags = r.nextInt(5) == 0 ? NO_REPLY : 0;
        return attachStrayFds(new Msg(frame(id(), command, flags, 0, payload), none(), false, false, "oversized:" + command));
    }

    /** Something after which the byte stream cannot be in step any more. */
    Msg breaker() {
        int roll = r.nextInt(4);
        Msg good = command(randomCommand(), 0, false, "breaker");
        byte[] bytes = good.bytes();
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
        String kind;
        switch (roll) {
            case 0 -> {
                b.putInt(4, r.nextInt(HEADER));
                kind = "breaker:size<16";
            }
            case 1 -> {
                b.putInt(4, r.nextBoolean() ? bytes.length + r.nextInt(1, 100_000) : interestingInt() | 0x8000_0000);
                kind = "breaker:size>sent";
            }
            case 2 -> {
                bytes = Arrays.copyOf(bytes, 1 + r.nextInt(HEADER - 1));
                kind = "breaker:partial-header";
            }
            default -> {
                bytes = Arrays.copyOf(bytes, HEADER + r.nextInt(Math.max(1, bytes.length - HEADER)));
                kind = "breaker:truncated-send";
                if (bytes.length == good.bytes().length) {
                    b.putInt(4, bytes.length + 1);
                    bytes = b.array();
                }
            }
        }
        return new Msg(bytes, good.fds(), false, true, kind);
    }

    // ---- descriptors ------------------------------------------------------------------------------

    private Msg attachStrayFds(Msg m) {
        int roll = r.nextInt(1000);
        if (Boolean.getBoolean("umdev.fuzz.manyfds") && r.nextInt(5) == 0) {
            return attachFds(m, pool.any(r, r.nextInt(61, 254)));
        }
        if (roll < 940) {
            return m;
        }
        // Up to 253 (SCM_MAX_FD): far more than the server's max_msg_fds, and than junixsocket's default buffer.
        int n = roll < 990 ? 1 + r.nextInt(3) : roll < 997 ? r.nextInt(17, 31) : r.nextInt(40, 254);
        return attachFds(m, pool.any(r, n));
    }

    private static Msg attachFds(Msg m, FileDescriptor[] fds) {
        return new Msg(m.bytes(), fds, false, m.breaks(), m.kind() + "+fds");
    }

    private static FileDescriptor[] none() {
        return new FileDescriptor[0];
    }

    // ---- values -----------------------------------------------------------------------------------

    private int i32(int valid) {
        if (p > 0 && r.nextDouble() < p) {
            int v = interestingInt();
            touched |= v != valid;
            return v;
        }
        return valid;
    }

    private long i64(long valid) {
        if (p > 0 && r.nextDouble() < p) {
            long v = interestingLong();
            touched |= v != valid;
            return v;
        }
        return valid;
    }

    int interestingInt() {
        int roll = r.nextInt(10);
        if (roll < 7) {
            return INTS[r.nextInt(INTS.length)];
        }
        return roll < 9 ? r.nextInt() : -r.nextInt(1, 64);
    }

    long interestingLong() {
        int roll = r.nextInt(10);
        if (roll < 6) {
            return LONGS[r.nextInt(LONGS.length)];
        } else if (roll < 8) {
            return Integer.toUnsignedLong(INTS[r.nextInt(INTS.length)]);
        }
        return roll < 9 ? r.nextLong() : r.nextLong() & ~0xfffL;
    }

    private byte[] randomBytes(int n) {
        byte[] bytes = new byte[n];
        for (int i = 0; i < n; i++) {
            bytes[i] = (byte) r.nextInt();
        }
        return bytes;
    }

    private static ByteBuffer buffer(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
    }

    private static byte[] ints(int... values) {
        ByteBuffer b = buffer(values.length * 4);
        for (int v : values) {
            b.putInt(v);
        }
        return b.array();
    }

    /** A whole message: header (size = what is actually there) and payload. */
    static byte[] frame(int id, int command, int flags, int error, byte[] payload) {
        return FuzzConnection.message(id, command, flags, error, payload);
    }
}

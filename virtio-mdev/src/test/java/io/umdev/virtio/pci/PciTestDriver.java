package io.umdev.virtio.pci;

import static io.umdev.virtio.pci.VirtioPciLayout.*;

import io.umdev.emudev.DeviceInterrupts;
import io.umdev.emudev.pci.PciRegisters;
import io.umdev.emudev.vfiouser.VfioUserAdapter;
import io.umdev.linux.EventFd;
import io.umdev.linux.LinuxException;
import io.umdev.vfiouser.client.VfioUserClient;
import io.umdev.vfiouser.protocol.DmaMapPayload;
import io.umdev.virtio.spec.BlkSpec;
import io.umdev.virtio.spec.DeviceStatus;
import io.umdev.virtio.spec.SplitRing;
import io.umdev.virtio.testing.GuestMemory;
import io.umdev.virtio.testing.SplitDriver;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A test-side virtio-pci driver speaking only vfio-user to the function, as a guest's virtio_pci does
 * through QEMU: it walks config space for the vendor capabilities, reads and writes BAR4 registers with
 * REGION_READ/WRITE (doorbells posted), maps its own memfd memory with DMA_MAP, and installs eventfds
 * with SET_IRQS. Rings are split rings written by hand ({@link SplitDriver}).
 */
public final class PciTestDriver implements AutoCloseable {
    public static final long IOVA = 0x100000;
    public static final long MEMORY = 1 << 20;
    public static final long RING_BASE = IOVA;
    public static final long BUFFERS = IOVA + 0x10000;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One vendor capability as the walk found it. */
    public record Cap(int at, int bar, long offset, long length, int extra) {
    }

    public final VfioUserClient client;
    public final GuestMemory memory;
    public final Map<Integer, Cap> caps = new HashMap<>();
    public int msixCap = -1;

    public PciTestDriver(Path socket) throws IOException, LinuxException {
        this.client = VfioUserClient.connect(socket);
        this.memory = GuestMemory.shared(IOVA, MEMORY);
        walkCapabilities();
    }

    public void mapMemory() throws IOException {
        client.dmaMap(IOVA, MEMORY, DmaMapPayload.FLAG_READ | DmaMapPayload.FLAG_WRITE, memory.fd(), GuestMemory.GUARD,
                null);
    }

    public long config(int offset, int size) throws IOException {
        return le(client.regionRead(VfioUserAdapter.CONFIG_REGION, offset, size));
    }

    public void writeConfig(int offset, int size, long value) throws IOException {
        client.regionWrite(VfioUserAdapter.CONFIG_REGION, offset, bytes(size, value));
    }

    private void walkCapabilities() throws IOException {
        int at = (int) config(PciRegisters.CAPABILITY_LIST, 1);
        int guard = 0;
        while (at != 0 && guard++ < 48) {
            int id = (int) config(at + PciRegisters.CAP_ID, 1);
            if (id == PciRegisters.CAP_ID_VENDOR) {
                int type = (int) config(at + CAP_CFG_TYPE, 1);
                int len = (int) config(at + CAP_LEN, 1);
                int extra = len >= CAP_EXTENDED_SIZE ? (int) config(at + CAP_NOTIFY_OFF_MULTIPLIER, 4) : -1;
                caps.putIfAbsent(type, new Cap(at, (int) config(at + CAP_BAR, 1), config(at + CAP_OFFSET, 4),
                        config(at + CAP_LENGTH, 4), extra));
            } else if (id == PciRegisters.CAP_ID_MSIX) {
                msixCap = at;
            }
            at = (int) config(at + PciRegisters.CAP_NEXT, 1) & PciRegisters.CAP_POINTER_MASK;
        }
    }

    private long area(int cfgType) {
        Cap c = caps.get(cfgType);
        if (c == null) {
            throw new AssertionError("no virtio capability of type " + cfgType);
        }
        return c.offset();
    }

    public long common(int field, int size) throws IOException {
        return le(client.regionRead(VIRTIO_BAR, area(CAP_COMMON_CFG) + field, size));
    }

    public void setCommon(int field, int size, long value) throws IOException {
        client.regionWrite(VIRTIO_BAR, area(CAP_COMMON_CFG) + field, bytes(size, value));
    }

    public int status() throws IOException {
        return (int) common(DEVICE_STATUS, 1);
    }

    public void setStatus(int status) throws IOException {
        setCommon(DEVICE_STATUS, 1, status);
    }

    public int isr() throws IOException {
        return (int) le(client.regionRead(VIRTIO_BAR, area(CAP_ISR_CFG), 1));
    }

    public long deviceConfig(int offset, int size) throws IOException {
        return le(client.regionRead(VIRTIO_BAR, area(CAP_DEVICE_CFG) + offset, size));
    }

    public long deviceFeatures() throws IOException {
        long f = 0;
        for (int w = 0; w < FEATURE_WINDOWS; w++) {
            setCommon(DEVICE_FEATURE_SELECT, 4, w);
            f |= common(DEVICE_FEATURE, 4) << (FEATURE_WINDOW_BITS * w);
        }
        return f;
    }

    public void setDriverFeatures(long features) throws IOException {
        for (int w = 0; w < FEATURE_WINDOWS; w++) {
            setCommon(DRIVER_FEATURE_SELECT, 4, w);
            setCommon(DRIVER_FEATURE, 4, (features >>> (FEATURE_WINDOW_BITS * w)) & 0xffffffffL);
        }
    }

    /** ACKNOWLEDGE, DRIVER, the features, FEATURES_OK; answers the status read back. */
    public int negotiate(long features) throws IOException {
        setStatus(DeviceStatus.ACKNOWLEDGE);
        setStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        setDriverFeatures(features);
        setStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        return status();
    }

    public void enableMsix() throws IOException {
        writeConfig(msixCap + PciRegisters.MSIX_CONTROL, 2, PciRegisters.MSIX_CONTROL_ENABLE);
    }

    public void installMsix(int vector, EventFd fd) throws IOException {
        client.setIrqEventFds(DeviceInterrupts.MSIX_INDEX, vector, List.of(fd));
    }

    /** Programs queue {@code q} on a split ring at {@code ring} and enables it. */
    public void setUpQueue(int q, SplitDriver ring, int vector) throws IOException {
        setCommon(QUEUE_SELECT, 2, q);
        setCommon(QUEUE_SIZE, 2, ring.size);
        // Addresses as two 32-bit halves, as Linux's vp_iowrite64_twopart writes them.
        setCommon(QUEUE_DESC, 4, ring.desc & 0xffffffffL);
        setCommon(QUEUE_DESC + 4, 4, ring.desc >>> 32);
        setCommon(QUEUE_DRIVER, 4, ring.avail & 0xffffffffL);
        setCommon(QUEUE_DRIVER + 4, 4, ring.avail >>> 32);
        setCommon(QUEUE_DEVICE, 8, ring.used);
        setCommon(QUEUE_MSIX_VECTOR, 2, vector);
        setCommon(QUEUE_ENABLE, 2, 1);
    }

    /** The queue's doorbell, posted as QEMU posts memory-BAR writes. */
    public void kick(int q) throws IOException {
        Cap notify = caps.get(CAP_NOTIFY_CFG);
        setCommon(QUEUE_SELECT, 2, q);
        long off = common(QUEUE_NOTIFY_OFF, 2);
        client.regionWritePosted(VIRTIO_BAR, notify.offset() + off * notify.extra(), bytes(2, q));
    }

    public SplitDriver ring(int size) {
        return new SplitDriver(memory, RING_BASE, size);
    }

    /** Builds a block request (header, data, status) in the buffer area: {address, length, writable} triples. */
    public long[][] blockRequest(int type, long sector, long data, int dataLength) {
        long header = BUFFERS;
        long status = BUFFERS + 0x100;
        MemorySegment h = memory.at(header, BlkSpec.REQ_HDR_SIZE);
        h.set(LE32, BlkSpec.REQ_TYPE, type);
        h.set(LE32, BlkSpec.REQ_IOPRIO, 0);
        h.set(LE64, BlkSpec.REQ_SECTOR, sector);
        memory.at(status, 1).set(ValueLayout.JAVA_BYTE, 0, (byte) 0xff);
        return new long[][] {{header, BlkSpec.REQ_HDR_SIZE, 0}, {data, dataLength, type == BlkSpec.T_IN ? 1 : 0},
                {status, 1, 1}};
    }

    public int blockStatus() {
        return memory.at(BUFFERS + 0x100, 1).get(ValueLayout.JAVA_BYTE, 0) & 0xff;
    }

    public static long le(MemorySegment s) {
        long v = 0;
        for (int i = 0; i < s.byteSize(); i++) {
            v |= (s.get(ValueLayout.JAVA_BYTE, i) & 0xffL) << (8 * i);
        }
        return v;
    }

    public static MemorySegment bytes(int size, long value) {
        MemorySegment s = MemorySegment.ofArray(new byte[size]);
        for (int i = 0; i < size; i++) {
            s.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        return s;
    }

    public static int splitRingBytes(int size) {
        return (int) (SplitRing.descTableSize(size) + SplitRing.availSize(size) + SplitRing.usedSize(size));
    }

    @Override
    public void close() {
        client.close();
        memory.close();
    }
}

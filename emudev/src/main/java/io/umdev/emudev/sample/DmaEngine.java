package io.umdev.emudev.sample;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import io.umdev.emudev.Bar;
import io.umdev.emudev.EmuDevice;
import io.umdev.emudev.EmuDeviceListener;
import io.umdev.emudev.RegisterHandler;
import io.umdev.emudev.pci.PciIds;
import io.umdev.emudev.pci.PciRegisters;
import io.umdev.linux.Errno;
import io.umdev.linux.LinuxException;
import io.umdev.vfiouser.dma.DmaException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A DMA engine: the driver writes source, destination and length into BAR0, then a command; the device
 * moves the bytes through the DMA table on its own worker thread and raises interrupt vector 0 (MSI-X,
 * MSI or INTx, whichever the guest enabled). BAR2 is 1 MiB of scratch memory the guest may mmap; two
 * commands move data between it and guest memory. DMA needs bus mastering enabled in the command
 * register, as on real hardware.
 */
public final class DmaEngine implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DmaEngine.class);

    /** IDs: vendor 0x1234 (the unassigned ID emulators use for test devices), class "other system peripheral". */
    public static final int VENDOR_ID = 0x1234;
    public static final int DEVICE_ID = 0x11e9;
    public static final int CLASS_CODE = 0x088000;

    public static final int REGISTER_BAR = 0;
    public static final long REGISTER_BAR_SIZE = 4096;
    public static final int SCRATCH_BAR = 2;
    public static final long SCRATCH_SIZE = 1 << 20;
    public static final int MSIX_VECTORS = 4;
    public static final long MSIX_TABLE = 0x800;
    public static final long MSIX_PBA = 0xc00;

    /** Register offsets in BAR0. */
    public static final long REG_MAGIC = 0x00;
    public static final long REG_VERSION = 0x04;
    public static final long REG_SRC = 0x08;
    public static final long REG_DST = 0x10;
    public static final long REG_LENGTH = 0x18;
    public static final long REG_COMMAND = 0x1c;
    public static final long REG_STATUS = 0x20;
    public static final long REG_ERROR = 0x24;
    public static final long REG_PATTERN = 0x28;
    public static final long REG_COMPLETED = 0x30;
    public static final long REG_INTERRUPT_STATUS = 0x38;
    public static final long REGISTERS_END = 0x100;

    public static final int MAGIC = 0x56444d55; // "UMDV"
    public static final int VERSION = 1;

    /** Commands written to REG_COMMAND. */
    public static final int CMD_COPY = 1;
    public static final int CMD_FILL = 2;
    public static final int CMD_TO_SCRATCH = 3;
    public static final int CMD_FROM_SCRATCH = 4;

    /** REG_STATUS values. */
    public static final int STATUS_IDLE = 0;
    public static final int STATUS_BUSY = 1;
    public static final int STATUS_DONE = 2;
    public static final int STATUS_ERROR = 3;

    /** REG_INTERRUPT_STATUS bit: a command finished (reading the register clears it). */
    public static final int INTERRUPT_DONE = 0x1;
    public static final long MAX_LENGTH = SCRATCH_SIZE;
    private static final int BOUNCE_SIZE = 64 * 1024;
    private static final int COMPLETION_VECTOR = 0;

    /** One finished command: what it was asked and the errno it ended with (0: done). */
    public record Transfer(int command, long src, long dst, long length, int error) {
    }

    private final EmuDevice device;
    private volatile Transfer lastTransfer;
    private final MemorySegment registers = MemorySegment.ofArray(new byte[(int) REGISTERS_END]);
    private final AtomicLong completed = new AtomicLong();
    private final Arena bounceArena = Arena.ofShared();
    private final MemorySegment bounce = bounceArena.allocate(BOUNCE_SIZE);
    private volatile ExecutorService worker;

    public DmaEngine(String name) throws LinuxException {
        Registers handler = new Registers();
        this.device = EmuDevice.builder(name, new PciIds(VENDOR_ID, DEVICE_ID, VENDOR_ID, DEVICE_ID, 1, CLASS_CODE))
                .express()
                .interruptPin()
                .powerManagement()
                .msi(1)
                .msix(MSIX_VECTORS, REGISTER_BAR, MSIX_TABLE, MSIX_PBA)
                .bar(Bar.memory32(REGISTER_BAR, REGISTER_BAR_SIZE)
                        .trap(0, REG_COMMAND, handler)
                        .writeDoorbell(REG_COMMAND, Integer.BYTES, new CommandDoorbell())
                        .trap(REG_STATUS, REGISTERS_END - REG_STATUS, handler.from(REG_STATUS)))
                .bar(Bar.memory64(SCRATCH_BAR, SCRATCH_SIZE, true)
                        .sharedMemory(name + "-scratch")
                        .mappable(0, SCRATCH_SIZE))
                .build();
        resetRegisters();
        device.addListener(new EmuDeviceListener() {
            @Override
            public void stateChanged(EmuDevice d, EmuDevice.State from, EmuDevice.State to) {
                switch (to) {
                    case RUNNING -> startWorker(d);
                    case STOPPED, CLOSED -> stopWorker();
                    default -> {
                    }
                }
            }

            @Override
            public void reset(EmuDevice d) {
                // A command in flight finishes (bounded) before the registers go back to power-on state,
                // so that its completion cannot overwrite them.
                boolean running = worker != null;
                stopWorker();
                resetRegisters();
                if (running) {
                    startWorker(d);
                }
            }
        });
        device.configure();
    }

    public EmuDevice device() {
        return device;
    }

    /** The last command the engine finished, or null. */
    public Transfer lastTransfer() {
        return lastTransfer;
    }

    /** Commands completed since the device was created (successful or not). */
    public long completedCommands() {
        return completed.get();
    }

    private synchronized void resetRegisters() {
        registers.fill((byte) 0);
        registers.set(JAVA_INT_UNALIGNED, REG_MAGIC, MAGIC);
        registers.set(JAVA_INT_UNALIGNED, REG_VERSION, VERSION);
        registers.set(JAVA_LONG_UNALIGNED, REG_COMPLETED, completed.get());
    }

    private void startWorker(EmuDevice d) {
        worker = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().name(d.name() + "-dma").daemon(true).unstarted(r));
    }

    private void stopWorker() {
        ExecutorService w = worker;
        worker = null;
        if (w != null) {
            w.shutdownNow();
            try {
                if (!w.awaitTermination(5, TimeUnit.SECONDS)) {
                    LOG.warn("{}: DMA worker did not stop", device.name());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Runs one command on the worker thread: the data path never runs on the connection's thread. */
    private void execute(int command) {
        long src;
        long dst;
        long length;
        long pattern;
        synchronized (this) {
            src = registers.get(JAVA_LONG_UNALIGNED, REG_SRC);
            dst = registers.get(JAVA_LONG_UNALIGNED, REG_DST);
            length = Integer.toUnsignedLong(registers.get(JAVA_INT_UNALIGNED, REG_LENGTH));
            pattern = registers.get(JAVA_LONG_UNALIGNED, REG_PATTERN);
        }
        int error = Errno.OK;
        try {
            if ((device.config().get16(PciRegisters.COMMAND) & PciRegisters.COMMAND_MASTER) == 0) {
                error = Errno.EPERM;
            } else if (length == 0 || length > MAX_LENGTH) {
                error = Errno.EINVAL;
            } else {
                error = switch (command) {
                    case CMD_COPY -> copy(src, dst, length);
                    case CMD_FILL -> fill(pattern, dst, length);
                    case CMD_TO_SCRATCH -> toScratch(src, dst, length);
                    case CMD_FROM_SCRATCH -> fromScratch(src, dst, length);
                    default -> Errno.EINVAL;
                };
            }
        } catch (DmaException e) {
            LOG.debug("{}: command {} failed: {}", device.name(), command, e.getMessage());
            error = e.errno();
        } catch (IllegalStateException e) {
            // The client's memory was unmapped under a running command (client gone).
            error = Errno.EFAULT;
        }
        lastTransfer = new Transfer(command, src, dst, length, error);
        synchronized (this) {
            registers.set(JAVA_INT_UNALIGNED, REG_ERROR, error);
            registers.set(JAVA_INT_UNALIGNED, REG_STATUS, error == Errno.OK ? STATUS_DONE : STATUS_ERROR);
            registers.set(JAVA_LONG_UNALIGNED, REG_COMPLETED, completed.incrementAndGet());
            registers.set(JAVA_INT_UNALIGNED, REG_INTERRUPT_STATUS,
                    registers.get(JAVA_INT_UNALIGNED, REG_INTERRUPT_STATUS) | INTERRUPT_DONE);
        }
        device.interrupts().signal(COMPLETION_VECTOR);
    }

    private int copy(long src, long dst, long length) throws DmaException {
        for (long done = 0; done < length; done += BOUNCE_SIZE) {
            MemorySegment chunk = bounce.asSlice(0, Math.min(BOUNCE_SIZE, length - done));
            device.dma().read(src + done, chunk);
            device.dma().write(dst + done, chunk);
        }
        return Errno.OK;
    }

    private int fill(long pattern, long dst, long length) throws DmaException {
        for (long i = 0; i + Long.BYTES <= BOUNCE_SIZE; i += Long.BYTES) {
            bounce.set(JAVA_LONG_UNALIGNED, i, pattern);
        }
        for (long done = 0; done < length; done += BOUNCE_SIZE) {
            device.dma().write(dst + done, bounce.asSlice(0, Math.min(BOUNCE_SIZE, length - done)));
        }
        return Errno.OK;
    }

    private MemorySegment scratch(long offset, long length) {
        return offset >= 0 && length <= SCRATCH_SIZE - offset ? device.bar(SCRATCH_BAR).memory().asSlice(offset, length) : null;
    }

    private int toScratch(long src, long scratchOffset, long length) throws DmaException {
        MemorySegment target = scratch(scratchOffset, length);
        if (target == null) {
            return Errno.EINVAL;
        }
        device.dma().read(src, target);
        return Errno.OK;
    }

    private int fromScratch(long scratchOffset, long dst, long length) throws DmaException {
        MemorySegment source = scratch(scratchOffset, length);
        if (source == null) {
            return Errno.EINVAL;
        }
        device.dma().write(dst, source);
        return Errno.OK;
    }

    @Override
    public void close() {
        stopWorker();
        device.close();
        bounceArena.close();
    }

    /** The plain registers: readable, and writable where the driver programs them. */
    private final class Registers implements RegisterHandler {
        private final long base;

        Registers() {
            this(0);
        }

        private Registers(long base) {
            this.base = base;
        }

        Registers from(long offset) {
            return new Registers(offset);
        }

        @Override
        public int read(long offset, MemorySegment dst) {
            long at = base + offset;
            synchronized (DmaEngine.this) {
                MemorySegment.copy(registers, at, dst, 0, dst.byteSize());
                if (at <= REG_INTERRUPT_STATUS && REG_INTERRUPT_STATUS < at + dst.byteSize()) {
                    // Read-to-clear, and the level interrupt drops with it.
                    registers.set(JAVA_INT_UNALIGNED, REG_INTERRUPT_STATUS, 0);
                    device.interrupts().deassertIntx();
                }
            }
            return Errno.OK;
        }

        @Override
        public int write(long offset, MemorySegment src) {
            long at = base + offset;
            boolean programmable = (at >= REG_SRC && at + src.byteSize() <= REG_LENGTH + Integer.BYTES)
                    || (at >= REG_PATTERN && at + src.byteSize() <= REG_PATTERN + Long.BYTES);
            if (!programmable) {
                // Read-only registers ignore writes, as hardware does.
                return Errno.OK;
            }
            synchronized (DmaEngine.this) {
                MemorySegment.copy(src, 0, registers, at, src.byteSize());
            }
            return Errno.OK;
        }
    }

    /** REG_COMMAND: the doorbell. A command while one runs, or before a client started the device, fails. */
    private final class CommandDoorbell implements RegisterHandler {
        @Override
        public int read(long offset, MemorySegment dst) {
            synchronized (DmaEngine.this) {
                MemorySegment.copy(registers, REG_COMMAND + offset, dst, 0, dst.byteSize());
            }
            return Errno.OK;
        }

        @Override
        public int write(long offset, MemorySegment src) {
            if (offset != 0 || src.byteSize() != Integer.BYTES) {
                return Errno.EINVAL;
            }
            int command = src.get(JAVA_INT_UNALIGNED, 0);
            ExecutorService w = worker;
            synchronized (DmaEngine.this) {
                registers.set(JAVA_INT_UNALIGNED, REG_COMMAND, command);
                if (registers.get(JAVA_INT_UNALIGNED, REG_STATUS) == STATUS_BUSY) {
                    // Refused, but the running command keeps the engine busy: STATUS stays BUSY, so no
                    // further command is accepted until it completes.
                    registers.set(JAVA_INT_UNALIGNED, REG_ERROR, Errno.EBUSY);
                    return Errno.OK;
                }
                if (w == null) {
                    registers.set(JAVA_INT_UNALIGNED, REG_ERROR, Errno.EBUSY);
                    registers.set(JAVA_INT_UNALIGNED, REG_STATUS, STATUS_ERROR);
                    return Errno.OK;
                }
                registers.set(JAVA_INT_UNALIGNED, REG_STATUS, STATUS_BUSY);
            }
            w.execute(() -> execute(command));
            return Errno.OK;
        }
    }
}

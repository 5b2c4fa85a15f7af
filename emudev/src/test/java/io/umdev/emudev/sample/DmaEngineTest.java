package io.umdev.emudev.sample;

import static io.umdev.emudev.sample.DmaEngine.*;
import static io.umdev.emudev.testing.ClientIrqs.awaitSignals;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.emudev.Bar;
import io.umdev.emudev.DeviceInterrupts;
import io.umdev.emudev.EmuDevice;
import io.umdev.emudev.pci.PciRegisters;
import io.umdev.emudev.testing.ClientIrqs;
import io.umdev.emudev.testing.OpenFiles;
import io.umdev.linux.Errno;
import io.umdev.linux.EventFd;
import io.umdev.vfiouser.dma.DmaException;
import io.umdev.vfiouser.dma.DmaMessenger;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The sample engine at the device level, with the client's memory reached through a {@link DmaMessenger}
 * the test controls: that is how a command can be held in flight deterministically.
 */
class DmaEngineTest {
    private static final long RAM = 0x100000;
    private static final long RAM_SIZE = 0x10000;

    private final ClientIrqs client = new ClientIrqs();
    private DmaEngine engine;
    private EmuDevice device;
    private Bar bar0;

    @BeforeEach
    void build() throws Exception {
        engine = new DmaEngine("dma-unit");
        device = engine.device();
        bar0 = device.bar(REGISTER_BAR);
    }

    @AfterEach
    void close() {
        engine.close();
        client.close();
    }

    private long reg(long offset, int length) {
        MemorySegment dst = MemorySegment.ofArray(new byte[length]);
        assertEquals(Errno.OK, bar0.read(offset, dst));
        long v = 0;
        for (int i = 0; i < length; i++) {
            v |= (dst.get(JAVA_BYTE, i) & 0xffL) << (8 * i);
        }
        return v;
    }

    private int setReg(long offset, int length, long value) {
        MemorySegment src = MemorySegment.ofArray(new byte[length]);
        for (int i = 0; i < length; i++) {
            src.set(JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        return bar0.write(offset, src);
    }

    private void configWrite(int offset, int length, long value) {
        MemorySegment src = MemorySegment.ofArray(new byte[length]);
        for (int i = 0; i < length; i++) {
            src.set(JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        device.config().write(offset, src);
    }

    private void program(long src, long dst, long length) {
        assertEquals(Errno.OK, setReg(REG_SRC, 8, src));
        assertEquals(Errno.OK, setReg(REG_DST, 8, dst));
        assertEquals(Errno.OK, setReg(REG_LENGTH, 4, length));
    }

    /** MSI-X on, vector 0's eventfd installed: the completion interrupt the test waits for. */
    private EventFd completionInterrupt() throws Exception {
        configWrite(device.capability(PciRegisters.CAP_ID_MSIX) + PciRegisters.MSIX_CONTROL, 2,
                PciRegisters.MSIX_CONTROL_ENABLE);
        return client.install(device.interrupts().index(DeviceInterrupts.MSIX_INDEX), 0);
    }

    /** Client memory mapped without an fd: every access is a call into {@code messenger}. */
    private void messageBackedRam(DmaMessenger messenger) throws DmaException {
        device.dma().setMessenger(messenger);
        device.dma().map(RAM, RAM_SIZE, true, true, null, 0);
    }

    @Test
    void identityRegistersAreReadOnly() {
        assertEquals(MAGIC, reg(REG_MAGIC, 4));
        assertEquals(VERSION, reg(REG_VERSION, 4));
        assertEquals(Errno.OK, setReg(REG_MAGIC, 4, 0));
        assertEquals(Errno.OK, setReg(REG_VERSION, 4, 7));
        assertEquals(Errno.OK, setReg(REG_STATUS, 4, STATUS_DONE));
        assertEquals(Errno.OK, setReg(REG_COMPLETED, 8, 99));
        assertEquals(MAGIC, reg(REG_MAGIC, 4));
        assertEquals(VERSION, reg(REG_VERSION, 4));
        assertEquals(STATUS_IDLE, reg(REG_STATUS, 4));
        assertEquals(0, reg(REG_COMPLETED, 8));
        program(0x1234, 0x5678, 0x9a);
        assertEquals(Errno.OK, setReg(REG_PATTERN, 8, 0xa5a5a5a5a5a5a5a5L));
        assertEquals(0x1234, reg(REG_SRC, 8));
        assertEquals(0x5678, reg(REG_DST, 8));
        assertEquals(0x9a, reg(REG_LENGTH, 4));
        assertEquals(0xa5a5a5a5a5a5a5a5L, reg(REG_PATTERN, 8));
    }

    @Test
    void theCommandRegisterTakesOnlyWholeDwords() {
        device.start();
        assertEquals(Errno.EINVAL, setReg(REG_COMMAND, 2, CMD_COPY));
        assertEquals(Errno.EINVAL, setReg(REG_COMMAND + 2, 2, 0));
        assertEquals(STATUS_IDLE, reg(REG_STATUS, 4), "nothing started");
    }

    @Test
    void aCommandBeforeAClientStartedTheDeviceFails() {
        assertEquals(EmuDevice.State.CONFIGURED, device.state());
        program(RAM, RAM + 0x1000, 64);
        assertEquals(Errno.OK, setReg(REG_COMMAND, 4, CMD_COPY));
        assertEquals(STATUS_ERROR, reg(REG_STATUS, 4));
        assertEquals(Errno.EBUSY, reg(REG_ERROR, 4));
        assertEquals(0, engine.completedCommands());
    }

    @Test
    void aCommandWhileBusyIsRefusedAndTheRunningOneCompletes() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<String> writes = new CopyOnWriteArrayList<>();
        messageBackedRam(new DmaMessenger() {
            @Override
            public void dmaRead(long iova, MemorySegment dst) throws DmaException {
                entered.countDown();
                try {
                    if (!release.await(ClientIrqs.WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
                        throw new DmaException(Errno.ETIMEDOUT, "the test never released the read");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new DmaException(Errno.EINTR, "interrupted");
                }
                dst.fill((byte) 0x5a);
            }

            @Override
            public void dmaWrite(long iova, MemorySegment src) {
                writes.add(Long.toHexString(iova) + "+" + src.byteSize());
            }
        });
        EventFd done = completionInterrupt();
        device.start();
        configWrite(PciRegisters.COMMAND, 2, PciRegisters.COMMAND_MEMORY | PciRegisters.COMMAND_MASTER);
        program(RAM, RAM + 0x8000, 0x100);
        assertEquals(Errno.OK, setReg(REG_COMMAND, 4, CMD_COPY));
        assertTrue(entered.await(ClientIrqs.WAIT_MILLIS, TimeUnit.MILLISECONDS), "the copy reached client memory");
        assertEquals(STATUS_BUSY, reg(REG_STATUS, 4));

        // The driver misbehaves: more commands while the copy is in flight.
        program(RAM + 0x1000, RAM + 0x2000, 0x10);
        assertEquals(Errno.OK, setReg(REG_COMMAND, 4, CMD_FILL));
        assertEquals(Errno.EBUSY, reg(REG_ERROR, 4), "refused: the engine is busy");
        assertEquals(STATUS_BUSY, reg(REG_STATUS, 4), "still busy with the first command");
        assertEquals(Errno.OK, setReg(REG_COMMAND, 4, CMD_COPY));
        assertEquals(Errno.EBUSY, reg(REG_ERROR, 4), "a third command is refused too");
        assertEquals(STATUS_BUSY, reg(REG_STATUS, 4));

        release.countDown();
        assertEquals(1, awaitSignals(done), "the first command's completion");
        assertEquals(STATUS_DONE, reg(REG_STATUS, 4));
        assertEquals(Errno.OK, reg(REG_ERROR, 4));
        assertEquals(new DmaEngine.Transfer(CMD_COPY, RAM, RAM + 0x8000, 0x100, Errno.OK), engine.lastTransfer());
        assertEquals(List.of(Long.toHexString(RAM + 0x8000) + "+256"), writes);

        // Nothing refused was queued behind it: the next command is the second to complete.
        program(RAM, RAM + 0x4000, 0x20);
        assertEquals(Errno.OK, setReg(REG_COMMAND, 4, CMD_COPY));
        assertEquals(1, awaitSignals(done));
        assertEquals(2, engine.completedCommands());
        assertEquals(new DmaEngine.Transfer(CMD_COPY, RAM, RAM + 0x4000, 0x20, Errno.OK), engine.lastTransfer());
        assertEquals(2, reg(REG_COMPLETED, 8));
    }

    @Test
    void completionOverIntxIsAcknowledgedByReadingTheInterruptStatus() throws Exception {
        List<String> writes = new CopyOnWriteArrayList<>();
        messageBackedRam(new DmaMessenger() {
            @Override
            public void dmaRead(long iova, MemorySegment dst) {
                dst.fill((byte) 1);
            }

            @Override
            public void dmaWrite(long iova, MemorySegment src) {
                writes.add(Long.toHexString(iova));
            }
        });
        EventFd intx = client.install(device.interrupts().index(DeviceInterrupts.INTX_INDEX), 0);
        device.start();
        configWrite(PciRegisters.COMMAND, 2, PciRegisters.COMMAND_MASTER);
        program(RAM, RAM + 0x100, 0x10);
        assertEquals(Errno.OK, setReg(REG_COMMAND, 4, CMD_COPY));
        assertEquals(1, awaitSignals(intx), "no MSI or MSI-X enabled: INTx");
        assertTrue((device.config().get16(PciRegisters.STATUS) & PciRegisters.STATUS_INTERRUPT) != 0);
        assertEquals(STATUS_DONE, reg(REG_STATUS, 4));
        assertEquals(INTERRUPT_DONE, reg(REG_INTERRUPT_STATUS, 4), "read-to-clear");
        assertEquals(0, reg(REG_INTERRUPT_STATUS, 4));
        assertEquals(0, device.config().get16(PciRegisters.STATUS) & PciRegisters.STATUS_INTERRUPT,
                "the line dropped with the acknowledgement");
        assertEquals(List.of(Long.toHexString(RAM + 0x100)), writes);
    }

    @Test
    void resetRestoresTheRegisters() throws Exception {
        program(0x1000, 0x2000, 0x30);
        setReg(REG_PATTERN, 8, 0x77);
        device.reset();
        assertEquals(MAGIC, reg(REG_MAGIC, 4));
        assertEquals(VERSION, reg(REG_VERSION, 4));
        assertEquals(0, reg(REG_SRC, 8));
        assertEquals(0, reg(REG_DST, 8));
        assertEquals(0, reg(REG_LENGTH, 4));
        assertEquals(0, reg(REG_PATTERN, 8));
        assertEquals(STATUS_IDLE, reg(REG_STATUS, 4));
    }

    @Test
    void closeReleasesTheDevice() throws Exception {
        long descriptors = OpenFiles.descriptors();
        long mappings = OpenFiles.memfdMappings();
        DmaEngine other = new DmaEngine("dma-closing");
        other.device().start();
        assertTrue(OpenFiles.descriptors() > descriptors);
        other.close();
        assertEquals(EmuDevice.State.CLOSED, other.device().state());
        assertEquals(descriptors, OpenFiles.descriptors());
        assertEquals(mappings, OpenFiles.memfdMappings());
    }
}

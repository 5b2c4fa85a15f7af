package io.umdev.emudev;

import static io.umdev.emudev.ConfigHeaderTest.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.emudev.EmuDevice.State;
import io.umdev.emudev.pci.PciRegisters;
import io.umdev.emudev.testing.ClientIrqs;
import io.umdev.emudev.testing.OpenFiles;
import io.umdev.linux.EventFd;
import io.umdev.linux.MappedMemory;
import io.umdev.linux.Memfd;
import io.umdev.linux.OwnedFd;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** An emulated function's lifecycle, events, attributes, queues and resources. */
class EmuDeviceTest {
    /** Records every event as a line. */
    static final class Recorder implements EmuDeviceListener {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public void stateChanged(EmuDevice device, State from, State to) {
            events.add(device.name() + " " + from + "->" + to);
        }

        @Override
        public void reset(EmuDevice device) {
            events.add(device.name() + " reset");
        }

        @Override
        public void attributeChanged(EmuDevice device, String name, String value) {
            events.add(device.name() + " " + name + "=" + value);
        }
    }

    private final List<EmuDevice> devices = new ArrayList<>();

    @AfterEach
    void closeDevices() {
        devices.forEach(EmuDevice::close);
    }

    private EmuDevice closeLater(EmuDevice device) {
        devices.add(device);
        return device;
    }

    private static EmuDevice.Builder small(String name) {
        return EmuDevice.builder(name, ConfigHeaderTest.IDS).bar(Bar.memory32(0, 4096));
    }

    private static void assertRefused(State from, State to, Runnable transition) {
        IllegalStateException e = assertThrows(IllegalStateException.class, transition::run);
        assertTrue(e.getMessage().contains(from.name()) && e.getMessage().contains(to.name()),
                "the message names both states: " + e.getMessage());
    }

    // ---- lifecycle -------------------------------------------------------------------------------------

    @Test
    void legalTransitionsAreReported() throws Exception {
        EmuDevice device = closeLater(small("life").build());
        Recorder r = new Recorder();
        device.addListener(r);
        assertEquals(State.CREATED, device.state());
        device.configure();
        device.start();
        device.stop();
        device.start();
        device.stop();
        assertEquals(State.STOPPED, device.state());
        device.close();
        assertEquals(State.CLOSED, device.state());
        assertEquals(List.of("life CREATED->CONFIGURED", "life CONFIGURED->RUNNING", "life RUNNING->STOPPED",
                "life STOPPED->RUNNING", "life RUNNING->STOPPED", "life STOPPED->CLOSED"), r.events);
    }

    @Test
    void illegalTransitionsAreRefusedNamingBothStates() throws Exception {
        EmuDevice device = closeLater(small("illegal").build());
        assertRefused(State.CREATED, State.RUNNING, device::start);
        assertRefused(State.CREATED, State.STOPPED, device::stop);
        device.configure();
        assertRefused(State.CONFIGURED, State.CONFIGURED, device::configure);
        assertRefused(State.CONFIGURED, State.STOPPED, device::stop);
        device.start();
        assertRefused(State.RUNNING, State.RUNNING, device::start);
        assertRefused(State.RUNNING, State.CONFIGURED, device::configure);
        device.stop();
        assertRefused(State.STOPPED, State.STOPPED, device::stop);
        assertRefused(State.STOPPED, State.CONFIGURED, device::configure);
        assertEquals(State.STOPPED, device.state(), "refusals change nothing");
        device.close();
        assertRefused(State.CLOSED, State.RUNNING, device::start);
        assertRefused(State.CLOSED, State.STOPPED, device::stop);
        assertRefused(State.CLOSED, State.CONFIGURED, device::configure);
        assertThrows(IllegalStateException.class, device::reset);
        assertEquals(State.CLOSED, device.state());
    }

    @Test
    void refusedTransitionsAreNotReported() throws Exception {
        try (EmuDevice device = small("quiet").build()) {
            Recorder r = new Recorder();
            device.addListener(r);
            assertThrows(IllegalStateException.class, device::start);
            assertTrue(r.events.isEmpty());
        }
    }

    @Test
    void closeFromEveryStateIsAllowed() throws Exception {
        for (int steps = 0; steps <= 3; steps++) {
            EmuDevice device = small("close-" + steps).build();
            Recorder r = new Recorder();
            device.addListener(r);
            State before = State.CREATED;
            if (steps >= 1) {
                device.configure();
                before = State.CONFIGURED;
            }
            if (steps >= 2) {
                device.start();
                before = State.RUNNING;
            }
            if (steps >= 3) {
                device.stop();
                before = State.STOPPED;
            }
            device.close();
            assertEquals(State.CLOSED, device.state());
            assertEquals(device.name() + " " + before + "->CLOSED", r.events.get(r.events.size() - 1));
        }
    }

    @Test
    void closeIsIdempotentAndReportedOnce() throws Exception {
        EmuDevice device = small("twice").build();
        Recorder r = new Recorder();
        device.addListener(r);
        device.close();
        device.close();
        device.close();
        assertEquals(List.of("twice CREATED->CLOSED"), r.events);
    }

    @Test
    void listenersCanBeRemoved() throws Exception {
        try (EmuDevice device = small("removed").build()) {
            Recorder kept = new Recorder();
            Recorder gone = new Recorder();
            device.addListener(kept);
            device.addListener(gone);
            device.configure();
            device.removeListener(gone);
            device.start();
            device.setAttribute("k", "v");
            device.reset();
            assertEquals(List.of("removed CREATED->CONFIGURED"), gone.events);
            assertEquals(List.of("removed CREATED->CONFIGURED", "removed CONFIGURED->RUNNING", "removed k=v",
                    "removed reset"), kept.events);
        }
    }

    @Test
    void resetTellsListenersAndKeepsTheLifecycle() throws Exception {
        try (EmuDevice device = small("reset").build()) {
            device.configure();
            device.start();
            Recorder r = new Recorder();
            device.addListener(r);
            write(device.config(), PciRegisters.COMMAND, 2, PciRegisters.COMMAND_MEMORY);
            device.reset();
            assertEquals(List.of("reset reset"), r.events);
            assertEquals(State.RUNNING, device.state());
            assertEquals(0, device.config().get16(PciRegisters.COMMAND));
        }
    }

    // ---- attributes ------------------------------------------------------------------------------------

    @Test
    void attributesFromTheBuilderAndLater() throws Exception {
        try (EmuDevice device = small("attrs").attribute("mac", "52:54:00:12:34:56").attribute("mtu", "1500").build()) {
            assertEquals("52:54:00:12:34:56", device.attribute("mac"));
            assertNull(device.attribute("absent"));
            Recorder r = new Recorder();
            device.addListener(r);
            device.setAttribute("mtu", "9000");
            device.setAttribute("queues", "2");
            assertEquals(List.of("attrs mtu=9000", "attrs queues=2"), r.events);
            Map<String, String> all = device.attributes();
            assertEquals(Map.of("mac", "52:54:00:12:34:56", "mtu", "9000", "queues", "2"), all);
            assertThrows(UnsupportedOperationException.class, () -> all.put("x", "y"));
            device.setAttribute("mac", "52:54:00:00:00:01");
            assertEquals("52:54:00:12:34:56", all.get("mac"), "attributes() is a snapshot");
        }
    }

    // ---- queues ----------------------------------------------------------------------------------------

    @Test
    void queuesAreBuiltWithTheirMaximumSize() throws Exception {
        try (EmuDevice device = small("queues").queues(3, 256).build()) {
            assertEquals(3, device.queues().size());
            for (int i = 0; i < 3; i++) {
                EmuQueue q = device.queues().get(i);
                assertEquals(i, q.index());
                assertEquals(256, q.maxSize());
                assertEquals(256, q.size());
                assertEquals(EmuQueue.NO_VECTOR, q.vector());
                assertFalse(q.enabled());
            }
            assertThrows(UnsupportedOperationException.class, () -> device.queues().add(new EmuQueue(3, 1)));
        }
    }

    @Test
    void queueSettersAreRefusedWhileEnabled() {
        EmuQueue q = new EmuQueue(0, 128);
        assertTrue(q.setSize(64));
        assertTrue(q.setAddresses(0x1000, 0x2000, 0x3000));
        q.setEnabled(true);
        assertFalse(q.setSize(32));
        assertFalse(q.setAddresses(0x4000, 0x5000, 0x6000));
        assertEquals(64, q.size());
        assertEquals(0x1000, q.descAddress());
        assertEquals(0x2000, q.driverAddress());
        assertEquals(0x3000, q.deviceAddress());
        q.setEnabled(false);
        assertTrue(q.setSize(32));
        assertTrue(q.setAddresses(0x4000, 0x5000, 0x6000));
        assertEquals(0x6000, q.deviceAddress());
    }

    @Test
    void queueSizeMustBeWithinItsMaximum() {
        EmuQueue q = new EmuQueue(1, 128);
        assertFalse(q.setSize(0));
        assertFalse(q.setSize(-1));
        assertFalse(q.setSize(129));
        assertEquals(128, q.size());
        assertTrue(q.setSize(128));
        assertTrue(q.setSize(1));
        assertThrows(IllegalArgumentException.class, () -> new EmuQueue(0, 0));
        assertThrows(IllegalArgumentException.class, () -> new EmuQueue(0, -5));
    }

    @Test
    void deviceResetRestoresQueueDefaults() throws Exception {
        try (EmuDevice device = small("queue-reset").queues(2, 64).build()) {
            EmuQueue q = device.queues().get(1);
            Doorbell bell = new Doorbell.WriteDoorbell(0, 0x40, 4, null);
            q.setSize(16);
            q.setAddresses(0x10000, 0x20000, 0x30000);
            q.setVector(3);
            q.setDoorbell(bell);
            q.setEnabled(true);
            device.reset();
            assertFalse(q.enabled());
            assertEquals(64, q.size());
            assertEquals(0, q.descAddress());
            assertEquals(0, q.driverAddress());
            assertEquals(0, q.deviceAddress());
            assertEquals(EmuQueue.NO_VECTOR, q.vector());
            assertSame(bell, q.doorbell(), "the doorbell is wiring, not guest state");
            assertTrue(q.setSize(8), "setters work again after reset");
        }
    }

    // ---- builder -----------------------------------------------------------------------------------------

    @Test
    void builderRefusesBarSlotsDescribedTwice() {
        assertThrows(IllegalArgumentException.class, () -> EmuDevice.builder("dup", ConfigHeaderTest.IDS)
                .bar(Bar.memory32(1, 4096)).bar(Bar.memory32(1, 4096)).build());
        assertThrows(IllegalArgumentException.class, () -> EmuDevice.builder("dup64", ConfigHeaderTest.IDS)
                .bar(Bar.memory64(0, 4096, false)).bar(Bar.memory32(1, 4096)).build(), "BAR1 is BAR0's upper half");
    }

    @Test
    void builderRefusesMsixInAnUndescribedBar() {
        assertThrows(IllegalArgumentException.class, () -> EmuDevice.builder("nomsixbar", ConfigHeaderTest.IDS)
                .msix(4, 2, 0, 0x800).bar(Bar.memory32(0, 4096)).build());
        assertThrows(IllegalArgumentException.class, () -> EmuDevice.builder("upper", ConfigHeaderTest.IDS)
                .msix(4, 1, 0, 0x800).bar(Bar.memory64(0, 4096, false)).build(), "the upper half of a 64-bit BAR");
    }

    @Test
    void aFailedBuildReleasesTheBarsAlreadyBuilt() {
        long descriptors = OpenFiles.descriptors();
        long mappings = OpenFiles.memfdMappings();
        // BAR0 gets its memfd first; BAR2 then fails: the MSI-X table would lie in its mappable memory.
        assertThrows(IllegalArgumentException.class, () -> EmuDevice.builder("half-built", ConfigHeaderTest.IDS)
                .msix(4, 2, 0, 0x800)
                .bar(Bar.memory32(0, 1 << 16).sharedMemory("half-built-bar0").mappable(0, 1 << 16))
                .bar(Bar.memory32(2, 1 << 16).sharedMemory("half-built-bar2").mappable(0, 1 << 16))
                .build());
        assertEquals(descriptors, OpenFiles.descriptors());
        assertEquals(mappings, OpenFiles.memfdMappings());
    }

    @Test
    void absentBarsAndCapabilities() throws Exception {
        try (EmuDevice device = small("absent").build()) {
            assertEquals("absent", device.name());
            assertEquals(ConfigHeaderTest.IDS, device.ids());
            assertEquals(0, device.bar(0).index());
            for (int i : new int[] {1, 2, 3, 4, 5, 6, -1}) {
                assertNull(device.bar(i), "BAR " + i);
            }
            assertEquals(-1, device.capability(PciRegisters.CAP_ID_MSIX));
            assertEquals(EmuDevice.DEFAULT_MAX_DMA_MAPPINGS, device.dma().maxMappings());
            assertTrue(device.queues().isEmpty());
        }
        try (EmuDevice device = small("dma").maxDmaMappings(7).build()) {
            assertEquals(7, device.dma().maxMappings());
        }
    }

    // ---- resources -----------------------------------------------------------------------------------

    @Test
    void closeReleasesEverything() throws Exception {
        long descriptors = OpenFiles.descriptors();
        long mappings = OpenFiles.memfdMappings();
        EventFd doorbell = EventFd.createNonBlocking();
        EmuDevice device = EmuDevice.builder("resources", ConfigHeaderTest.IDS)
                .interruptPin()
                .msi(2)
                .msix(4, 0, 0x800, 0xc00)
                .bar(Bar.memory32(0, 4096).eventFdDoorbell(0x40, 4, doorbell, null))
                .bar(Bar.memory64(2, 1 << 20, true).sharedMemory("resources-bar2").mappable(0, 1 << 20))
                .build();
        try (ClientIrqs client = new ClientIrqs()) {
            client.install(device.interrupts().index(DeviceInterrupts.INTX_INDEX), 0);
            client.install(device.interrupts().index(DeviceInterrupts.MSI_INDEX), 1);
            client.install(device.interrupts().index(DeviceInterrupts.MSIX_INDEX), 3);
            client.install(device.interrupts().index(DeviceInterrupts.ERR_INDEX), 0);
            try (OwnedFd ramFd = Memfd.create("resources-ram", 1 << 16)) {
                device.dma().map(0x100000, 1 << 16, true, true, ramFd.duplicate(), 0);
            }
            assertTrue(OpenFiles.descriptors() > descriptors);
            assertTrue(OpenFiles.memfdMappings() >= mappings + 2, "BAR memory and the DMA mapping");
            device.configure();
            device.start();
            device.close();
            device.close();
            assertFalse(doorbell.fd().isOpen());
            assertEquals(0, device.dma().size());
            for (int i = 0; i < DeviceInterrupts.INDEX_COUNT; i++) {
                var irq = device.interrupts().index(i);
                for (int v = 0; v < irq.count(); v++) {
                    assertFalse(irq.hasTrigger(v), "index " + i + " vector " + v);
                }
            }
        }
        assertEquals(descriptors, OpenFiles.descriptors(), "every descriptor back");
        assertEquals(mappings, OpenFiles.memfdMappings(), "every memfd mapping gone");
    }

    @Test
    void sharedMemoryOfABarIsMappableByAnotherUser() throws Exception {
        try (EmuDevice device = EmuDevice.builder("map", ConfigHeaderTest.IDS)
                .bar(Bar.memory64(2, 1 << 16, false).sharedMemory("map-bar2").mappable(0, 1 << 16))
                .build();
                MappedMemory view = MappedMemory.map(device.bar(2).memoryFd(), 0, 1 << 16, true)) {
            device.bar(2).memory().set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0x100, 0x12345678);
            assertEquals(0x12345678, view.segment().get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0x100));
        }
    }
}

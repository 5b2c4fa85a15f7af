package io.umdev.mdev;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.umdev.linux.Errno;
import io.umdev.linux.Memfd;
import io.umdev.vfiouser.dma.DmaDirection;
import io.umdev.vfiouser.dma.DmaException;
import io.umdev.vfiouser.dma.DmaTable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** The bus with a test parent and test drivers: creation, validation, matching, override, rebind, events. */
class MdevBusTest {
    private static final UUID U1 = UUID.fromString("0b4f5c2e-3d8a-4f1e-9a6b-1c2d3e4f5a6b");
    private static final UUID U2 = UUID.fromString("7e1d2c3b-4a59-4687-b8c9-d0e1f2a3b4c5");

    private final MdevBus bus = new MdevBus(8);
    private final TestParent parent = new TestParent();
    private final EventRecorder events = new EventRecorder();

    @BeforeEach
    void setUp() throws MdevException {
        bus.addParent(parent);
        bus.subscribe(events);
    }

    @AfterEach
    void tearDown() {
        bus.close();
    }

    private static MdevException assertRefused(int errno, String field, Executable call) {
        MdevException e = assertThrows(MdevException.class, call);
        assertEquals(Errno.name(errno), Errno.name(e.errno()), e::getMessage);
        assertEquals(field, e.field().orElse(null), e::getMessage);
        return e;
    }

    private MdevInstance createNet(UUID uuid) throws MdevException {
        return bus.create(CreateRequest.of("test", "net").withUuid(uuid));
    }

    /** Nothing on the bus, nothing alive in the parent, every slot free. */
    private void assertNothingCreated() throws MdevException {
        assertEquals(List.of(), bus.instances());
        assertEquals(List.of(), parent.live);
        assertEquals(4, bus.availableInstances("test", "net"));
    }

    // ---------------------------------------------------------------- creation and validation

    @Test
    void createsAnUnboundInstanceWhenNoDriverIsRegistered() throws Exception {
        MdevInstance instance = createNet(U1);

        assertEquals(U1, instance.uuid());
        assertSame(parent, instance.parent());
        assertEquals(TestParent.NET, instance.type());
        assertEquals(DeviceApi.VIRTIO, instance.deviceApi());
        assertEquals(InstanceState.UNBOUND, instance.state());
        assertTrue(instance.driver().isEmpty());
        assertSame(instance, bus.instance(U1).orElseThrow());
        assertEquals(3, bus.availableInstances("test", "net"));
        assertEquals(List.of("added"), events.kinds());
        assertEquals(List.of("create " + U1), parent.log);
    }

    @Test
    void generatesAUuidWhenNoneIsGiven() throws Exception {
        MdevInstance a = bus.create(CreateRequest.of("test", "pci"));
        MdevInstance b = bus.create(CreateRequest.of("test", "pci"));

        assertNotNull(a.uuid());
        assertNotEquals(a.uuid(), b.uuid());
        assertEquals(4, a.uuid().version());
    }

    @Test
    void validatesAttributesAndFillsInDefaults() throws Exception {
        MdevInstance instance = bus.create(CreateRequest.of("test", "net").withAttribute("mtu", "9000")
                .withAttribute("mac", "52:54:00:AB:cd:01"));

        Attributes attributes = instance.attributes();
        assertEquals(List.of("mtu", "mac"), List.copyOf(attributes.given().keySet()), "given order is kept");
        assertEquals(9000L, attributes.getLong("mtu"));
        assertEquals(1L, attributes.getLong("max_vqp"), "default");
        assertEquals(MacAddress.parse("52:54:00:ab:cd:01"), attributes.get("mac", MacAddress.class).orElseThrow());
        assertEquals("9000", attributes.effective().get("mtu"));
        assertEquals("1", attributes.effective().get("max_vqp"));
        TestParent.TestDevice device = (TestParent.TestDevice) instance.device();
        assertSame(attributes, device.context.attributes(), "the parent sees the validated attributes");
    }

    @Test
    void refusesAnUnknownParentNamingIt() throws Exception {
        MdevException e = assertRefused(Errno.ENOENT, "parent", () -> bus.create(CreateRequest.of("nope", "net")));
        assertTrue(e.getMessage().contains("'nope'") && e.getMessage().contains("test"), e.getMessage());
        assertNothingCreated();
    }

    @Test
    void refusesAnUnknownTypeListingTheParentsTypes() throws Exception {
        MdevException e = assertRefused(Errno.ENOENT, "type", () -> bus.create(CreateRequest.of("test", "blk")));
        assertTrue(e.getMessage().contains("net, pci"), e.getMessage());
        assertNothingCreated();
        assertEquals(List.of(), parent.log, "the parent is not asked");
    }

    @Test
    void refusesAnUnknownAttributeListingTheAcceptedOnes() throws Exception {
        MdevException e = assertRefused(Errno.EINVAL, "attrs.colour",
                () -> bus.create(CreateRequest.of("test", "net").withAttribute("colour", "blue")));
        assertTrue(e.getMessage().contains("mac, mtu, max_vqp"), e.getMessage());
        assertNothingCreated();
        assertEquals(List.of(), parent.log);
    }

    @Test
    void refusesAnOutOfRangeValueNamingTheAttributeAndTheRange() throws Exception {
        MdevException e = assertRefused(Errno.EINVAL, "attrs.mtu",
                () -> bus.create(CreateRequest.of("test", "net").withAttribute("mtu", "70000")));
        assertTrue(e.getMessage().contains("68..65535"), e.getMessage());
        assertNothingCreated();
        assertEquals(List.of(), events.kinds(), "validation failures are not events: nothing was attempted");
    }

    @Test
    void refusesAnAttributeTheTypeDoesNotTake() throws Exception {
        assertRefused(Errno.EINVAL, "attrs.mtu",
                () -> bus.create(CreateRequest.of("test", "pci").withAttribute("mtu", "1500")));
    }

    @Test
    void theParentChecksCombinationsBeforeItIsAskedToCreate() throws Exception {
        CreateRequest request = CreateRequest.of("test", "net").withAttribute("max_vqp", "3").withAttribute("mtu", "576");
        assertRefused(Errno.EINVAL, "attrs.max_vqp", () -> bus.create(request));
        assertRefused(Errno.EINVAL, "attrs.max_vqp", () -> bus.validate("test", "net", request.attributes()));
        assertNothingCreated();
        assertEquals(List.of(), parent.log, "refused before create");
        bus.create(request.withAttribute("mtu", "1500"));
    }

    @Test
    void refusesABadDriverOverrideName() throws Exception {
        assertRefused(Errno.EINVAL, "driver",
                () -> bus.create(CreateRequest.of("test", "net").withDriverOverride("no spaces please")));
        assertNothingCreated();
    }

    @Test
    void refusesADuplicateUuidKeepingTheFirstInstance() throws Exception {
        MdevInstance first = createNet(U1);
        MdevException e = assertRefused(Errno.EEXIST, "uuid",
                () -> bus.create(CreateRequest.of("test", "pci").withUuid(U1)));
        assertTrue(e.getMessage().contains(U1.toString()), e.getMessage());
        assertSame(first, bus.instance(U1).orElseThrow());
        assertEquals(1, bus.instanceCount());
        assertEquals(List.of("create " + U1), parent.log);
    }

    @Test
    void refusesWhenTheTypeHasNoAvailableInstancesAndFreesASlotOnRemove() throws Exception {
        List<UUID> created = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            created.add(bus.create(CreateRequest.of("test", "net")).uuid());
        }
        assertEquals(0, bus.availableInstances("test", "net"));

        assertRefused(Errno.ENOSPC, "type", () -> bus.create(CreateRequest.of("test", "net")));
        assertEquals(4, bus.instanceCount());
        assertEquals(4, parent.live.size());

        bus.remove(created.get(2));
        assertEquals(1, bus.availableInstances("test", "net"));
        bus.create(CreateRequest.of("test", "net"));
    }

    @Test
    void aParentRefusalRollsEverythingBackAndEmitsFailed() throws Exception {
        parent.refuseWith = MdevException.invalid("attrs.max_vqp", "the test parent wants max_vqp even");
        MdevException e = assertRefused(Errno.EINVAL, "attrs.max_vqp", () -> createNet(U1));
        assertTrue(e.getMessage().contains("even"), e.getMessage());

        assertNothingCreated();
        assertEquals(List.of("failed"), events.kinds());
        assertEquals(U1, events.events.getFirst().uuid());
        // The same UUID is free again.
        parent.refuseWith = null;
        createNet(U1);
    }

    @Test
    void aParentCrashIsReportedAsAnErrorNotAnException() throws Exception {
        parent.crashWith = new IllegalStateException("boom");
        MdevException e = assertRefused(Errno.EIO, null, () -> createNet(U1));
        assertTrue(e.getMessage().contains("boom"), e.getMessage());
        assertNothingCreated();
        assertEquals(List.of("failed"), events.kinds());
    }

    @Test
    void aRefusedCreateUnmapsWhatTheParentMappedInTheInstancesDmaTable() throws Exception {
        List<DmaTable> seen = new CopyOnWriteArrayList<>();
        parent.hook = context -> {
            context.dmaTable().map(0, DmaTable.PAGE_SIZE, true, true, Memfd.create("guest", DmaTable.PAGE_SIZE), 0);
            seen.add(context.dmaTable());
        };
        parent.refuseWith = MdevException.noSpace(null, "out of queues");

        assertRefused(Errno.ENOSPC, null, () -> createNet(U1));
        assertEquals(0, seen.getFirst().size(), "the DMA table of a failed create is closed");
    }

    @Test
    void aDeviceOfTheWrongApiIsRefusedAndReleased() throws Exception {
        parent.answerWithApi = DeviceApi.VFIO_PCI;
        MdevException e = assertRefused(Errno.EIO, null, () -> createNet(U1));
        assertTrue(e.getMessage().contains("vfio-pci device for a virtio type"), e.getMessage());
        assertNothingCreated();
        assertEquals(List.of("create " + U1, "remove " + U1), parent.log);
    }

    // ---------------------------------------------------------------- matching and binding

    @Test
    void matchesADriverByDeviceApi() throws Exception {
        TestDriver virtio = new TestDriver("virtio-test", DeviceApi.VIRTIO);
        TestDriver vfio = new TestDriver("vfio-test", DeviceApi.VFIO_PCI);
        bus.addDriver(virtio);
        bus.addDriver(vfio);

        MdevInstance net = createNet(U1);
        MdevInstance pci = bus.create(CreateRequest.of("test", "pci").withUuid(U2));

        assertSame(virtio, net.driver().orElseThrow());
        assertEquals(InstanceState.BOUND, net.state());
        assertSame(vfio, pci.driver().orElseThrow());
        assertEquals(List.of("virtio-test probe " + U1), virtio.log);
        assertEquals(List.of("added", "bound virtio-test", "added", "bound vfio-test"), events.kinds());
    }

    @Test
    void triesTheNextMatchingDriverWhenOneDeclines() throws Exception {
        TestDriver picky = new TestDriver("picky", DeviceApi.VIRTIO);
        picky.behaviour = TestDriver.Behaviour.DECLINE;
        TestDriver willing = new TestDriver("willing", DeviceApi.VIRTIO);
        bus.addDriver(picky);
        bus.addDriver(willing);

        MdevInstance instance = createNet(U1);

        assertSame(willing, instance.driver().orElseThrow());
        assertEquals(List.of("picky probe " + U1), picky.log);
    }

    @Test
    void staysUnboundWhenEveryDriverDeclines() throws Exception {
        TestDriver picky = new TestDriver("picky", DeviceApi.VIRTIO);
        picky.behaviour = TestDriver.Behaviour.DECLINE;
        bus.addDriver(picky);

        assertEquals(InstanceState.UNBOUND, createNet(U1).state());
    }

    @Test
    void aFailedProbeRollsTheCreateBack() throws Exception {
        TestDriver broken = new TestDriver("broken", DeviceApi.VIRTIO);
        broken.behaviour = TestDriver.Behaviour.FAIL;
        bus.addDriver(broken);

        MdevException e = assertRefused(Errno.EBUSY, null, () -> createNet(U1));
        assertTrue(e.getMessage().contains("driver broken failed to bind"), e.getMessage());
        assertNothingCreated();
        assertEquals(List.of("create " + U1, "remove " + U1), parent.log);
        assertEquals(List.of("failed"), events.kinds());
    }

    @Test
    void aCrashingProbeRollsTheCreateBack() throws Exception {
        TestDriver broken = new TestDriver("broken", DeviceApi.VIRTIO);
        broken.behaviour = TestDriver.Behaviour.CRASH;
        bus.addDriver(broken);

        assertRefused(Errno.EIO, null, () -> createNet(U1));
        assertNothingCreated();
    }

    @Test
    void aDriverOverrideBindsOnlyTheNamedDriver() throws Exception {
        TestDriver first = new TestDriver("first", DeviceApi.VIRTIO);
        TestDriver second = new TestDriver("second", DeviceApi.VIRTIO);
        bus.addDriver(first);
        bus.addDriver(second);

        MdevInstance instance = bus.create(CreateRequest.of("test", "net").withUuid(U1).withDriverOverride("second"));

        assertSame(second, instance.driver().orElseThrow());
        assertEquals(List.of(), first.log, "matching is not consulted under an override");
        assertEquals("second", instance.driverOverride().orElseThrow());
    }

    @Test
    void anOverrideNamingAnAbsentDriverWaitsForIt() throws Exception {
        bus.addDriver(new TestDriver("other", DeviceApi.VIRTIO));
        MdevInstance instance = bus.create(CreateRequest.of("test", "net").withUuid(U1).withDriverOverride("later"));
        assertEquals(InstanceState.UNBOUND, instance.state());

        TestDriver later = new TestDriver("later", DeviceApi.VIRTIO);
        bus.addDriver(later);

        assertSame(later, instance.driver().orElseThrow(), "a new driver is offered the instances waiting for it");
        assertEquals(List.of("added", "bound later"), events.kinds());
    }

    @Test
    void rebindAppliesAChangedOverride() throws Exception {
        TestDriver first = new TestDriver("first", DeviceApi.VIRTIO);
        TestDriver second = new TestDriver("second", DeviceApi.VIRTIO);
        bus.addDriver(first);
        bus.addDriver(second);
        MdevInstance instance = createNet(U1);
        assertSame(first, instance.driver().orElseThrow());

        bus.setDriverOverride(U1, "second");
        assertSame(first, instance.driver().orElseThrow(), "setting the override alone does not rebind");

        assertSame(second, bus.rebind(U1).orElseThrow());
        assertSame(second, instance.driver().orElseThrow());
        assertEquals(List.of("first probe " + U1, "first remove " + U1), first.log);
        assertEquals(List.of("added", "bound first", "unbound first", "bound second"), events.kinds());

        bus.setDriverOverride(U1, null);
        assertSame(first, bus.rebind(U1).orElseThrow(), "cleared: matching order again");
    }

    @Test
    void unbindThenBindByName() throws Exception {
        TestDriver first = new TestDriver("first", DeviceApi.VIRTIO);
        TestDriver second = new TestDriver("second", DeviceApi.VIRTIO);
        bus.addDriver(first);
        bus.addDriver(second);
        MdevInstance instance = createNet(U1);

        bus.unbind(U1);
        assertEquals(InstanceState.UNBOUND, instance.state());
        assertRefused(Errno.EINVAL, "uuid", () -> bus.unbind(U1));

        bus.bind(U1, "second");
        assertSame(second, instance.driver().orElseThrow());
        assertEquals(List.of("added", "bound first", "unbound first", "bound second"), events.kinds());
    }

    @Test
    void bindRefusesWhatCannotWork() throws Exception {
        TestDriver virtio = new TestDriver("virtio-test", DeviceApi.VIRTIO);
        TestDriver vfio = new TestDriver("vfio-test", DeviceApi.VFIO_PCI);
        TestDriver picky = new TestDriver("picky", DeviceApi.VIRTIO);
        picky.behaviour = TestDriver.Behaviour.DECLINE;
        bus.addDriver(virtio);
        bus.addDriver(vfio);
        bus.addDriver(picky);
        MdevInstance instance = createNet(U1);

        assertRefused(Errno.EBUSY, "uuid", () -> bus.bind(U1, "virtio-test"));
        bus.unbind(U1);
        assertRefused(Errno.ENOENT, "driver", () -> bus.bind(U1, "nobody"));
        assertRefused(Errno.EINVAL, "driver", () -> bus.bind(U1, "vfio-test"));
        assertRefused(Errno.ENODEV, "driver", () -> bus.bind(U1, "picky"));
        bus.setDriverOverride(U1, "virtio-test");
        MdevException e = assertRefused(Errno.EINVAL, "driver", () -> bus.bind(U1, "picky"));
        assertTrue(e.getMessage().contains("override"), e.getMessage());
        assertRefused(Errno.ENOENT, "uuid", () -> bus.bind(U2, "virtio-test"));
        assertEquals(InstanceState.UNBOUND, instance.state());
    }

    @Test
    void aFailedBindLeavesTheInstanceUnboundWithAFailedEvent() throws Exception {
        TestDriver flaky = new TestDriver("flaky", DeviceApi.VIRTIO);
        bus.addDriver(flaky);
        MdevInstance instance = createNet(U1);
        bus.unbind(U1);
        flaky.behaviour = TestDriver.Behaviour.FAIL;
        events.clear();

        assertRefused(Errno.EBUSY, null, () -> bus.rebind(U1));

        assertEquals(InstanceState.UNBOUND, instance.state());
        assertSame(instance, bus.instance(U1).orElseThrow(), "a failed bind does not remove the instance");
        assertEquals(List.of("failed"), events.kinds());
    }

    @Test
    void registeringADriverBindsWaitingInstancesAndRemovingItUnbindsThem() throws Exception {
        MdevInstance net = createNet(U1);
        MdevInstance pci = bus.create(CreateRequest.of("test", "pci").withUuid(U2));
        TestDriver virtio = new TestDriver("virtio-test", DeviceApi.VIRTIO);

        bus.addDriver(virtio);
        assertSame(virtio, net.driver().orElseThrow());
        assertEquals(InstanceState.UNBOUND, pci.state());

        bus.removeDriver("virtio-test");
        assertEquals(InstanceState.UNBOUND, net.state());
        assertEquals(List.of("virtio-test probe " + U1, "virtio-test remove " + U1), virtio.log);
        assertTrue(bus.drivers().isEmpty());
        assertRefused(Errno.ENOENT, "driver", () -> bus.removeDriver("virtio-test"));
    }

    @Test
    void refusesDuplicateParentAndDriverNames() throws Exception {
        assertRefused(Errno.EEXIST, "parent", () -> bus.addParent(new TestParent()));
        bus.addDriver(new TestDriver("d", DeviceApi.VIRTIO));
        assertRefused(Errno.EEXIST, "driver", () -> bus.addDriver(new TestDriver("d", DeviceApi.VFIO_PCI)));
        assertRefused(Errno.EINVAL, "parent", () -> bus.addParent(new TestParent("bad name")));
        assertRefused(Errno.EINVAL, "driver", () -> bus.addDriver(new TestDriver("none")));
    }

    // ---------------------------------------------------------------- removal

    @Test
    void removeUnbindsThenReleasesTheDevice() throws Exception {
        List<String> shared = new CopyOnWriteArrayList<>();
        TestDriver driver = new TestDriver("d", shared, DeviceApi.VIRTIO);
        bus.addDriver(driver);
        bus.subscribe(event -> shared.add("event " + event.kind().label()));
        createNet(U1);
        parent.log.clear();

        bus.remove(U1);

        assertEquals(List.of("d probe " + U1, "event added", "event bound", "d remove " + U1, "event unbound",
                "event removed"), shared);
        assertEquals(List.of("remove " + U1), parent.log);
        assertTrue(bus.instance(U1).isEmpty());
        assertRefused(Errno.ENOENT, "uuid", () -> bus.remove(U1));
    }

    @Test
    void removingAParentRemovesItsInstances() throws Exception {
        TestParent other = new TestParent("other", TestParent.PCI);
        bus.addParent(other);
        createNet(U1);
        bus.create(CreateRequest.of("other", "pci").withUuid(U2));

        bus.removeParent("test");

        assertEquals(List.of(U2), bus.instances().stream().map(MdevInstance::uuid).toList());
        assertEquals(List.of(other), bus.parents());
        assertRefused(Errno.ENOENT, "parent", () -> bus.create(CreateRequest.of("test", "net")));
    }

    @Test
    void closeRemovesNewestFirstAndRefusesFurtherManagement() throws Exception {
        bus.addDriver(new TestDriver("d", DeviceApi.VIRTIO, DeviceApi.VFIO_PCI));
        createNet(U1);
        bus.create(CreateRequest.of("test", "pci").withUuid(U2));
        parent.log.clear();

        bus.close();

        assertEquals(List.of("remove " + U2, "remove " + U1), parent.log);
        assertEquals(0, bus.instanceCount());
        assertRefused(Errno.ENODEV, null, () -> createNet(U1));
        bus.close();
    }

    // ---------------------------------------------------------------- DMA contexts

    @Test
    void eachInstanceReachesOnlyWhatItsOwnClientMapped() throws Exception {
        MdevInstance a = createNet(U1);
        MdevInstance b = createNet(U2);
        assertNotSame(a.dmaTable(), b.dmaTable());
        assertEquals(8, a.dmaTable().maxMappings(), "the bus's DMA size is used");

        a.dmaTable().map(0x10000, DmaTable.PAGE_SIZE, true, true, Memfd.create("guest-a", DmaTable.PAGE_SIZE), 0);

        assertNotNull(a.dmaTable().region(0x10000, 64, DmaDirection.READ));
        DmaException e = assertThrows(DmaException.class, () -> b.dmaTable().region(0x10000, 64, DmaDirection.READ));
        assertEquals(Errno.EFAULT, e.errno());
        assertSame(a.dmaTable(), ((TestParent.TestDevice) a.device()).context.dmaTable(),
                "the parent got the instance's table");

        bus.remove(U1);
        assertEquals(0, a.dmaTable().size(), "removal unmaps the instance's DMA memory");
    }

    @Test
    void theDmaTableIsMadeOnFirstUseAndSharedByParentAndDrivers() throws Exception {
        MdevInstance instance = createNet(U1);
        assertFalse(instance.context().hasDmaTable(), "nobody asked for it yet");

        DmaTable table = instance.dmaTable();

        assertTrue(instance.context().hasDmaTable());
        assertSame(table, instance.dmaTable());
        assertSame(table, ((TestParent.TestDevice) instance.device()).context.dmaTable());
    }

    // ---------------------------------------------------------------- device interfaces and attributes

    @Test
    void aDriverReachesTheDeviceThroughUnwrap() throws Exception {
        MdevInstance instance = createNet(U1);
        assertEquals("hello from " + U1, instance.device().unwrap(TestParent.Greeter.class).orElseThrow().greet());
        assertTrue(instance.device().unwrap(Runnable.class).isEmpty());
    }

    @Test
    void aLiveUpdateGoesThroughTheParent() throws Exception {
        MdevInstance instance = bus.create(CreateRequest.of("test", "net").withUuid(U1).withAttribute("mtu", "1500"));
        LinkedHashMap<String, String> next = new LinkedHashMap<>();
        next.put("mtu", "9000");

        assertRefused(Errno.EOPNOTSUPP, "attrs", () -> bus.updateAttributes(U1, next));
        assertEquals(1500L, instance.attributes().getLong("mtu"), "a refused update changes nothing");

        parent.acceptUpdates = true;
        next.put("mtu", "1");
        assertRefused(Errno.EINVAL, "attrs.mtu", () -> bus.updateAttributes(U1, next));
        next.put("mtu", "9000");
        bus.updateAttributes(U1, next);
        assertEquals(9000L, instance.attributes().getLong("mtu"));
        assertEquals(9000L, ((TestParent.TestDevice) instance.device()).attributes.getLong("mtu"));
    }

    @Test
    void validateChecksADefinitionWithoutCreatingAnything() throws Exception {
        LinkedHashMap<String, String> attrs = new LinkedHashMap<>();
        attrs.put("max_vqp", "17");
        assertRefused(Errno.EINVAL, "attrs.max_vqp", () -> bus.validate("test", "net", attrs));
        attrs.put("max_vqp", "2");
        assertEquals(2L, bus.validate("test", "net", attrs).getLong("max_vqp"));
        assertNothingCreated();
    }

    // ---------------------------------------------------------------- events

    @Test
    void aFailingListenerDoesNotDisturbTheBusOrOtherListeners() throws Exception {
        bus.subscribe(event -> {
            throw new IllegalStateException("listener bug");
        });
        EventRecorder late = new EventRecorder();
        bus.subscribe(late);

        createNet(U1);

        assertEquals(List.of("added"), late.kinds());
        assertTrue(bus.instance(U1).isPresent());
    }

    @Test
    void aListenerMayCallBackIntoTheBusAndEventsStayInOrder() throws Exception {
        bus.subscribe(event -> {
            if (event.kind() == MdevEvent.Kind.ADDED && event.uuid().equals(U1)) {
                try {
                    bus.remove(U1);
                } catch (MdevException e) {
                    throw new IllegalStateException(e);
                }
            }
        });

        createNet(U1);

        assertEquals(List.of("added", "removed"), events.kinds());
        assertTrue(bus.instance(U1).isEmpty());
    }

    @Test
    void aClosedSubscriptionReceivesNothing() throws Exception {
        EventRecorder recorder = new EventRecorder();
        MdevBus.Subscription subscription = bus.subscribe(recorder);
        subscription.close();
        createNet(U1);
        assertEquals(List.of(), recorder.kinds());
    }

    // ---------------------------------------------------------------- threads

    @Test
    void concurrentCreatesNeverExceedTheAvailableInstances() throws Exception {
        int threads = 8;
        int attempts = 25;
        AtomicInteger refused = new AtomicInteger();
        Set<UUID> created = ConcurrentHashMap.newKeySet();
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> futures = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            for (int t = 0; t < threads; t++) {
                futures.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < attempts; i++) {
                        try {
                            MdevInstance instance = bus.create(CreateRequest.of("test", "net"));
                            created.add(instance.uuid());
                            bus.remove(instance.uuid());
                        } catch (MdevException e) {
                            assertEquals(Errno.ENOSPC, e.errno(), e::getMessage);
                            refused.incrementAndGet();
                        }
                        assertTrue(bus.availableInstances("test", "net") >= 0);
                        assertTrue(parent.live.size() <= 4, "never more live devices than the type holds");
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : futures) {
                f.get(30, TimeUnit.SECONDS);
            }
        }
        assertEquals(threads * attempts, created.size() + refused.get());
        assertEquals(4, bus.availableInstances("test", "net"));
        assertEquals(0, bus.instanceCount());
        assertFalse(created.isEmpty());
    }

    @Test
    void concurrentCreatesWithTheSameUuidLetExactlyOneWin() throws Exception {
        int threads = 8;
        CountDownLatch start = new CountDownLatch(1);
        AtomicInteger won = new AtomicInteger();
        AtomicInteger exists = new AtomicInteger();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                futures.add(pool.submit(() -> {
                    start.await();
                    try {
                        bus.create(CreateRequest.of("test", "pci").withUuid(U1));
                        won.incrementAndGet();
                    } catch (MdevException e) {
                        assertEquals(Errno.EEXIST, e.errno());
                        exists.incrementAndGet();
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : futures) {
                f.get(30, TimeUnit.SECONDS);
            }
        }
        assertEquals(1, won.get());
        assertEquals(threads - 1, exists.get());
    }
}

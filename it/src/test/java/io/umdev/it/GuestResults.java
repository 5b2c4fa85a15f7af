package io.umdev.it;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/** The result lines of one guest run, in the order the guest printed them, with typed views. */
public final class GuestResults {

    /** The result-line protocol this parser understands ({@code PROTOCOL} in the guest's /init). */
    public static final int PROTOCOL = 1;

    private static final String STATUS_OK = "ok";
    /** What the blk workload prints per disk and round, each line with {@code dev=}. */
    private static final List<ResultKind> BLOCK_KINDS = List.of(
            ResultKind.BLK_DEV, ResultKind.BLK_SEQ, ResultKind.BLK_RAND, ResultKind.BLK_INTEGRITY);

    private final List<ResultLine> lines;

    public GuestResults(List<ResultLine> lines) {
        this.lines = List.copyOf(lines);
    }

    /** Picks the result lines out of a console transcript (kernel messages and noise are skipped). */
    public static GuestResults parse(List<String> consoleLines) {
        return new GuestResults(consoleLines.stream().map(ResultLine::parse).flatMap(Optional::stream).toList());
    }

    public List<ResultLine> lines() {
        return lines;
    }

    public List<ResultLine> all(ResultKind kind) {
        return lines.stream().filter(line -> line.is(kind)).toList();
    }

    public Optional<ResultLine> first(ResultKind kind) {
        return lines.stream().filter(line -> line.is(kind)).findFirst();
    }

    /** The guest printed its end marker: every workload ran (successfully or not) before power-off. */
    public boolean ended() {
        return first(ResultKind.END).isPresent();
    }

    /** Ended, with no error line. */
    public boolean succeeded() {
        return first(ResultKind.END).map(end -> STATUS_OK.equals(end.text("status"))).orElse(false)
                && errors().isEmpty();
    }

    public List<ResultLine> errors() {
        return all(ResultKind.ERROR);
    }

    public int protocol() {
        return require(ResultKind.BEGIN).intNumber("protocol");
    }

    /** {@code uname -r} in the guest. */
    public String kernelRelease() {
        return require(ResultKind.BEGIN).text("kernel");
    }

    public List<String> loadedModules() {
        return all(ResultKind.MODULE).stream()
                .filter(line -> "loaded".equals(line.text("status")))
                .map(line -> line.text("name"))
                .toList();
    }

    public List<PciDevice> pciDevices() {
        return typed(ResultKind.PCI, PciDevice::from);
    }

    public Optional<PciDevice> pciDevice(String slot) {
        return pciDevices().stream().filter(device -> device.slot().equals(slot)).findFirst();
    }

    public List<VirtioDevice> virtioDevices() {
        return typed(ResultKind.VIRTIO, VirtioDevice::from);
    }

    public List<BlockDevice> blockDevices() {
        return typed(ResultKind.BLK_DEV, BlockDevice::from);
    }

    /** The full blk workload report for one disk ({@code vda}, ...): its first round. */
    public BlockReport block(String dev) {
        return blockReport(dev, blockRoundLines(dev), 0);
    }

    /**
     * Every round of the blk workload on one disk, in order: {@code blk} listed n times among the workloads
     * runs it n times on each disk. A round is the disk's {@code blk-dev} line and its lines up to the disk's
     * next {@code blk-dev}, so a round that failed halfway cannot lend its missing lines to the next one.
     */
    public List<BlockReport> blockRounds(String dev) {
        List<List<ResultLine>> rounds = blockRoundLines(dev);
        return IntStream.range(0, Math.max(1, rounds.size())).mapToObj(round -> blockReport(dev, rounds, round)).toList();
    }

    public Optional<NetLink> netLink() {
        return first(ResultKind.NET_LINK).map(NetLink::from);
    }

    public Optional<NetPing> netPing() {
        return first(ResultKind.NET_PING).map(NetPing::from);
    }

    public Optional<NetThroughput> netThroughput() {
        return first(ResultKind.NET_TCP).map(NetThroughput::from);
    }

    public Optional<NetQueues> netQueues() {
        return first(ResultKind.NET_QUEUES).map(NetQueues::from);
    }

    public Optional<NetControl> netControl() {
        return first(ResultKind.NET_CTRL).map(NetControl::from);
    }

    /** The numbered blocks the guest saw acknowledged (workload blk-acked), in order. */
    public List<AckedBlock> ackedBlocks() {
        return typed(ResultKind.BLK_ACK, AckedBlock::from);
    }

    /** The boot count the guest read from its disk, when the run had the reboot workload. */
    public OptionalLong bootCount() {
        return first(ResultKind.BOOT).map(line -> OptionalLong.of(line.number("count"))).orElse(OptionalLong.empty());
    }

    public Optional<VirtioLoop> virtioLoop() {
        return first(ResultKind.VIRTIO_LOOP).map(VirtioLoop::from);
    }

    /**
     * The results of each boot, split where the guest printed a {@code begin} line (one boot unless the run
     * had the reboot workload).
     */
    public List<GuestResults> boots() {
        List<GuestResults> boots = new ArrayList<>();
        List<ResultLine> current = new ArrayList<>();
        for (ResultLine line : lines) {
            if (line.is(ResultKind.BEGIN) && !current.isEmpty()) {
                boots.add(new GuestResults(current));
                current = new ArrayList<>();
            }
            current.add(line);
        }
        if (!current.isEmpty()) {
            boots.add(new GuestResults(current));
        }
        return boots;
    }

    /** The sample DMA engine's operations, in the order the guest ran them. */
    public List<DmaOperation> dmaOperations() {
        return all(ResultKind.DMA).stream().map(DmaOperation::from).toList();
    }

    /** The sample DMA engine operation named {@code op}. */
    public DmaOperation dmaOperation(String op) {
        return dmaOperations().stream().filter(d -> d.op().equals(op)).findFirst()
                .orElseThrow(() -> new AssertionError("the guest reported no DMA operation " + op + ": " + lines()));
    }

    @Override
    public String toString() {
        return lines.stream().map(ResultLine::toString).collect(Collectors.joining("\n"));
    }

    private static Predicate<ResultLine> op(IoDirection direction) {
        return line -> direction.tag().equals(line.text("op"));
    }

    private List<List<ResultLine>> blockRoundLines(String dev) {
        List<List<ResultLine>> rounds = new ArrayList<>();
        for (ResultLine line : lines) {
            if (BLOCK_KINDS.stream().noneMatch(line::is) || !dev.equals(line.text("dev"))) {
                continue;
            }
            if (line.is(ResultKind.BLK_DEV)) {
                rounds.add(new ArrayList<>());
            }
            if (!rounds.isEmpty()) {
                rounds.getLast().add(line);
            }
        }
        return rounds;
    }

    private BlockReport blockReport(String dev, List<List<ResultLine>> rounds, int round) {
        List<ResultLine> in = round < rounds.size() ? rounds.get(round) : List.of();
        String where = rounds.size() > 1 ? " in round " + (round + 1) : "";
        return new BlockReport(
                BlockDevice.from(require(in, ResultKind.BLK_DEV, line -> true, dev + where)),
                SequentialIo.from(require(in, ResultKind.BLK_SEQ, op(IoDirection.WRITE), dev + " sequential write" + where)),
                SequentialIo.from(require(in, ResultKind.BLK_SEQ, op(IoDirection.READ), dev + " sequential read" + where)),
                RandomIo.from(require(in, ResultKind.BLK_RAND, op(IoDirection.WRITE), dev + " random write" + where)),
                RandomIo.from(require(in, ResultKind.BLK_RAND, op(IoDirection.READ), dev + " random read" + where)),
                BlockIntegrity.from(require(in, ResultKind.BLK_INTEGRITY, line -> true, dev + where)));
    }

    private <T> List<T> typed(ResultKind kind, Function<ResultLine, T> parser) {
        return all(kind).stream().map(parser).toList();
    }

    private ResultLine require(ResultKind kind) {
        return require(lines, kind, line -> true, "");
    }

    private ResultLine require(List<ResultLine> among, ResultKind kind, Predicate<ResultLine> match, String what) {
        return among.stream()
                .filter(line -> line.is(kind))
                .filter(match)
                .findFirst()
                .orElseThrow(() -> new MalformedResultException("the guest printed no '%s' line%s; its errors: %s"
                        .formatted(kind.tag(), what.isEmpty() ? "" : " for " + what, errors())));
    }
}

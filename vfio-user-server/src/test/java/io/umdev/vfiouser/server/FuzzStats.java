package io.umdev.vfiouser.server;

import io.umdev.linux.Errno;
import java.util.Map;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Collectors;

/** What the fuzzer did and saw, shared by its writer and reader threads. */
final class FuzzStats {
    /** Fuzz messages sent (everything but sync probes and answers to the server's DMA requests). */
    final LongAdder messages = new LongAdder();
    final LongAdder bytes = new LongAdder();
    final LongAdder syncProbes = new LongAdder();
    final LongAdder connections = new LongAdder();
    final LongAdder negotiationFuzz = new LongAdder();
    final LongAdder streamBreaks = new LongAdder();
    final LongAdder serverDrops = new LongAdder();
    final LongAdder refusedSecondClients = new LongAdder();
    final LongAdder fdsSent = new LongAdder();
    final LongAdder fdsReceived = new LongAdder();
    final LongAdder dmaRequests = new LongAdder();
    final LongAdder dmaAnswers = new LongAdder();
    final LongAdder repliesOk = new LongAdder();
    final LongAdder checkedReplies = new LongAdder();
    final LongAdder oversized = new LongAdder();
    private final Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> kinds = new ConcurrentHashMap<>();
    /** Everything that broke a rule; the test fails if this is not empty. */
    final Queue<String> failures = new ConcurrentLinkedQueue<>();

    void error(int errno) {
        errors.computeIfAbsent(Errno.name(errno), k -> new LongAdder()).increment();
    }

    void kind(String kind) {
        kinds.computeIfAbsent(kind, k -> new LongAdder()).increment();
    }

    void fail(String what) {
        if (failures.size() < 100) {
            failures.add(what);
        }
    }

    long errorReplies() {
        return errors.values().stream().mapToLong(LongAdder::sum).sum();
    }

    String errorsByErrno() {
        return new TreeMap<>(errors).entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue().sum())
                .collect(Collectors.joining(" ", "{", "}"));
    }

    String kinds() {
        return new TreeMap<>(kinds).entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue().sum())
                .collect(Collectors.joining(" ", "{", "}"));
    }
}

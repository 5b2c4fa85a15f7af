package io.umdev.daemon;

import io.umdev.mdev.MdevEvent;
import io.umdev.mdev.MdevListener;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Logs every bus event (failures as warnings) and counts them for {@code umdevctl stats}. */
@Singleton
public final class EventLog implements MdevListener {
    private static final Logger LOG = LoggerFactory.getLogger("io.umdev.events");

    private final Map<MdevEvent.Kind, AtomicLong> counts = new EnumMap<>(MdevEvent.Kind.class);

    @Inject
    public EventLog() {
        for (MdevEvent.Kind kind : MdevEvent.Kind.values()) {
            counts.put(kind, new AtomicLong());
        }
    }

    @Override
    public void onEvent(MdevEvent event) {
        counts.get(event.kind()).incrementAndGet();
        if (event.kind() == MdevEvent.Kind.FAILED) {
            LOG.warn("{}", event);
        } else {
            LOG.info("{}", event);
        }
    }

    /** How many events of each kind since the daemon started. */
    public long count(MdevEvent.Kind kind) {
        return counts.get(kind).get();
    }
}

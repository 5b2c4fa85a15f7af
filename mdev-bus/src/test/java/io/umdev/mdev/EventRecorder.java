package io.umdev.mdev;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Collects events as "kind uuid [driver]" strings, for comparing sequences. */
final class EventRecorder implements MdevListener {
    final List<MdevEvent> events = new CopyOnWriteArrayList<>();

    @Override
    public void onEvent(MdevEvent event) {
        events.add(event);
    }

    List<String> kinds() {
        return events.stream().map(e -> e.kind().label() + e.driver().map(d -> " " + d).orElse("")).toList();
    }

    void clear() {
        events.clear();
    }
}

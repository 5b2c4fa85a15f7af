package io.umdev.it;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.testcontainers.containers.output.OutputFrame;

/** Collects a QEMU container's output: the guest console (stdout) and QEMU's stderr, line by line. */
final class GuestConsole implements Consumer<OutputFrame> {

    private static final Logger LOG = LoggerFactory.getLogger(GuestConsole.class);
    private static final String END_MARKER = ResultLine.PREFIX + ResultKind.END.tag() + " ";

    private final String guest;
    private final List<String> console = new ArrayList<>();
    private final List<String> stderr = new ArrayList<>();
    private final CountDownLatch endMarker = new CountDownLatch(1);
    private final CountDownLatch streamClosed = new CountDownLatch(1);

    GuestConsole(String guest) {
        this.guest = guest;
    }

    @Override
    public void accept(OutputFrame frame) {
        if (frame.getType() == OutputFrame.OutputType.END) {
            streamClosed.countDown();
            return;
        }
        String line = frame.getUtf8StringWithoutLineEnding().stripTrailing();
        if (frame.getType() == OutputFrame.OutputType.STDERR) {
            LOG.info("[{} qemu] {}", guest, line);
            synchronized (this) {
                stderr.add(line);
            }
            return;
        }
        LOG.debug("[{}] {}", guest, line);
        synchronized (this) {
            console.add(line);
        }
        if (line.stripLeading().startsWith(END_MARKER)) {
            endMarker.countDown();
        }
    }

    boolean endMarkerSeen() {
        return endMarker.getCount() == 0;
    }

    /** Waits until Docker closed the log stream (QEMU exited) so no output is lost; false on timeout. */
    boolean awaitStreamClosed(Duration timeout) throws InterruptedException {
        return streamClosed.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    synchronized List<String> console() {
        return List.copyOf(console);
    }

    synchronized List<String> stderr() {
        return List.copyOf(stderr);
    }
}

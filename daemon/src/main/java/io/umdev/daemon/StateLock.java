package io.umdev.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One daemon per state directory: an exclusive lock on {@code <state-dir>/umdevd.lock}, holding the
 * owner's pid. The kernel drops the lock when the process dies, however it dies, so a daemon killed
 * with SIGKILL never blocks its successor.
 */
final class StateLock implements AutoCloseable {
    private final FileChannel channel;
    private final FileLock lock;

    private StateLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    static StateLock acquire(Path file) throws IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        try {
            FileLock lock = channel.tryLock();
            if (lock == null) {
                String holder = Files.readString(file, StandardCharsets.US_ASCII).strip();
                throw new IOException("another umdevd" + (holder.isEmpty() ? "" : " (pid " + holder + ")")
                        + " is using this state directory (" + file.getParent() + "); stop it, or give this one "
                        + "its own --state-dir and --run-dir");
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
            return new StateLock(channel, lock);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
        } finally {
            channel.close();
        }
    }
}

/**
 * Linux system calls through {@code java.lang.foreign}: memfd, mmap, eventfd, poll, fcntl, positional file
 * IO (pread/pwrite, fdatasync, fallocate) and friends.
 * Every downcall of umdev lives in this package, fenced behind small owning types.
 */
package io.umdev.linux;

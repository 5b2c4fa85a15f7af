/**
 * Linux system calls through {@code java.lang.foreign}: memfd, mmap, eventfd, poll, fcntl and friends.
 * Every downcall of umdev lives in this package, fenced behind small owning types.
 */
package io.umdev.linux;

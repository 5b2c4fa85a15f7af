/**
 * Integration tests against real peers. The fixture lives with the tests (src/test/java): {@code QemuPeer}
 * boots an unmodified Linux guest in QEMU 11.1 inside a locally provisioned Docker image and returns what the
 * guest measured. See it/README.md for what the tests need and how to run them.
 */
package io.umdev.it;

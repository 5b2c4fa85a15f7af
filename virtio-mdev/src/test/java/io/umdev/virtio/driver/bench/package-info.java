/** JMH benchmarks of the in-process driver end to end over a software device; run by the bench-driver profile. */
package io.umdev.virtio.driver.bench;

/** JMH benchmarks of sim-blk through the in-process driver, beside raw file and memory baselines. */
package io.umdev.simblk.bench;

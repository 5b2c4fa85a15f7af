/**
 * A small, honest sample device that proves the emudev layer before virtio exists: a DMA engine that
 * copies and fills guest memory and raises an interrupt when done. See the emudev README for its
 * register map.
 */
package io.umdev.emudev.sample;

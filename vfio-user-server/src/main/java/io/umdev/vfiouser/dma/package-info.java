/**
 * The DMA memory table: the client memory a device may reach, by IOVA. Ranges passed with an fd are
 * mapped once and read in place; ranges without one are reached through DMA_READ/DMA_WRITE messages.
 * Every access is checked against the table before memory is touched.
 */
package io.umdev.vfiouser.dma;

/**
 * Device interrupts as VFIO defines them: per IRQ index (INTx, MSI, MSI-X, ...) a set of vectors, each
 * with a trigger eventfd installed by the client, a mask bit and a pending bit.
 */
package io.umdev.vfiouser.irq;

/**
 * The mdev-like bus after the kernel's mdev core and vDPA bus: parents offer types, instances are
 * created by UUID, and each instance is bound to a driver by device API. Arrives with the bus issue.
 */
package io.umdev.mdev;

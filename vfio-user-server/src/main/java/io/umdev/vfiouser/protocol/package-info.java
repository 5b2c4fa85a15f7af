/**
 * The vfio-user wire format (QEMU's {@code docs/interop/vfio-user.rst}): the message header, every
 * command's payload layout, and the VERSION capabilities. Each layout is defined once, as a named
 * {@link java.lang.foreign.StructLayout}, and read in place from the message buffer; every size,
 * count and {@code argsz} is checked before a field is used. All fields are in host byte order.
 */
package io.umdev.vfiouser.protocol;

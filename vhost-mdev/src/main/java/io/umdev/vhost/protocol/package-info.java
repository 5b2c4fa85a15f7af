/**
 * The vhost-user wire format (QEMU's {@code docs/interop/vhost-user.rst}), defined once: request codes,
 * protocol feature bits, the message header and every payload layout this backend reads or writes.
 * Host byte order throughout (vhost-user peers share a host).
 */
package io.umdev.vhost.protocol;

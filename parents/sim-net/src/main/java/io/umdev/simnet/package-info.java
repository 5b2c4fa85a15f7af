/**
 * The {@code sim-net} parent: a ServiceLoader plugin ({@link io.umdev.simnet.SimNetProvider}) offering
 * type {@code net}, software virtio-net devices built on the shared
 * {@link io.umdev.virtio.transport.SoftwareVirtioDevice} core, each either looping its frames back or
 * attached to a named learning switch ({@link io.umdev.simnet.l2}).
 */
package io.umdev.simnet;

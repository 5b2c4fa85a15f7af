/**
 * The mdev-like bus, after the kernel's mdev core and vDPA bus.
 *
 * <ul>
 *   <li>{@link io.umdev.mdev.ParentDevice parents} offer {@link io.umdev.mdev.MdevType types} (name,
 *       description, {@link io.umdev.mdev.DeviceApi device API}, available instances,
 *       {@link io.umdev.mdev.AttributeSpec attributes}); they come from
 *       {@link io.umdev.mdev.ParentProvider} plugins found by {@link io.umdev.mdev.ParentPlugins};</li>
 *   <li>the {@link io.umdev.mdev.MdevBus bus} creates {@link io.umdev.mdev.MdevInstance instances} by
 *       UUID, each with its own DMA table, and binds them to {@link io.umdev.mdev.MdevDriver drivers}
 *       by device API or by override;</li>
 *   <li>{@link io.umdev.mdev.MdevListener listeners} see {@link io.umdev.mdev.MdevEvent events}: added,
 *       bound, unbound, removed, failed.</li>
 * </ul>
 */
package io.umdev.mdev;

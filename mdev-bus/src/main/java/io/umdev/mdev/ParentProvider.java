package io.umdev.mdev;

import java.util.List;

/**
 * The service a parent plugin provides, found with {@link java.util.ServiceLoader}: a jar holding an
 * implementation and a {@code META-INF/services/io.umdev.mdev.ParentProvider} file naming it is all a
 * third party ships. One provider may yield several parents, or none when the machine has nothing to
 * offer (no suitable virtual function, say).
 *
 * <p>Implementations need a public no-argument constructor. {@link #parents} is called once, at start.
 */
public interface ParentProvider {
    /**
     * The parents this plugin offers on this machine.
     *
     * @param environment where the parents may keep files
     */
    List<ParentDevice> parents(ParentEnvironment environment);
}

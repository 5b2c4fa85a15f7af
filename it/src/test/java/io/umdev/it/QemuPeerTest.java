package io.umdev.it;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/** Marks a test class that boots guests in the real QEMU peer; its tests may take a {@link QemuPeer} parameter. */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(QemuPeerExtension.class)
@Tag("qemu-peer")
public @interface QemuPeerTest {
}

package io.umdev.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** How QEMU runs the guest's CPUs. */
public enum Accel {
    /** Hardware virtualisation through /dev/kvm (needs VMX or SVM on the host). */
    KVM(List.of("-accel", "kvm", "-cpu", "host")),
    /** QEMU's emulator: slower, works everywhere. */
    TCG(List.of("-accel", "tcg", "-cpu", "max"));

    /** Forces an accelerator: {@code kvm} or {@code tcg}. */
    public static final String OVERRIDE_PROPERTY = "umdev.it.accel";

    static final Path KVM_DEVICE = Path.of("/dev/kvm");
    // /dev/kvm alone is not enough: on these hosts it can be PVM (kvm_pvm), under which a stock kernel dies
    // with "KVM internal error. Suberror: 1". Only the VMX/SVM modules mean a guest kernel will run.
    private static final List<Path> HARDWARE_KVM_MODULES = List.of(Path.of("/sys/module/kvm_intel"), Path.of("/sys/module/kvm_amd"));

    private final List<String> qemuArgs;

    Accel(List<String> qemuArgs) {
        this.qemuArgs = qemuArgs;
    }

    /** KVM when it can run a stock guest kernel here, TCG otherwise; {@value #OVERRIDE_PROPERTY} overrides. */
    public static Accel detect() {
        Optional<String> forced = Optional.ofNullable(System.getProperty(OVERRIDE_PROPERTY)).filter(value -> !value.isBlank());
        if (forced.isPresent()) {
            return valueOf(forced.get().strip().toUpperCase(Locale.ROOT));
        }
        boolean hardware = HARDWARE_KVM_MODULES.stream().anyMatch(Files::isDirectory);
        return hardware && Files.isReadable(KVM_DEVICE) && Files.isWritable(KVM_DEVICE) ? KVM : TCG;
    }

    List<String> qemuArgs() {
        return qemuArgs;
    }
}

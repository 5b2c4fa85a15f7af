package io.umdev.daemon;

/**
 * The umdev daemon's entry point. Until the bus, the drivers and the parents exist, it reports that
 * there is nothing to serve yet; the composition root grows here as they arrive.
 */
public final class Umdevd {
    private Umdevd() {
    }

    public static void main(String[] args) {
        String version = Umdevd.class.getPackage().getImplementationVersion();
        System.out.printf("umdevd %s: no devices yet%n", version == null ? "(development build)" : version);
    }
}

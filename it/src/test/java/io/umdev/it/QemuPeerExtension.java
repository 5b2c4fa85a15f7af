package io.umdev.it;

import java.lang.reflect.Method;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gates real-peer tests and hands them a {@link QemuPeer}. Where the peer cannot run (no Docker engine, not
 * provisioned) the tests are skipped with the reason, so the plain build works anywhere; under {@code CI=true}
 * that is a failure instead, because CI must really run them.
 */
public final class QemuPeerExtension implements BeforeAllCallback, ParameterResolver {

    /** Set to {@code true} by CI systems (and by .ci/run). */
    public static final String CI_ENV = "CI";

    private static final Logger LOG = LoggerFactory.getLogger(QemuPeerExtension.class);

    /** Probed once per JVM: the engine and the provisioning do not change during a test run. */
    private static final class Probe {
        static final QemuPeer.Availability RESULT = QemuPeer.probe();
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        Probe.RESULT.problem().ifPresent(problem -> {
            if (Boolean.parseBoolean(System.getenv(CI_ENV))) {
                throw new IllegalStateException("CI=true, so the real-peer tests must run, but: " + problem);
            }
            LOG.warn("skipping {}: {}", context.getDisplayName(), problem);
            Assumptions.abort("QEMU peer unavailable: " + problem);
        });
    }

    @Override
    public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        return parameterContext.getParameter().getType() == QemuPeer.class;
    }

    @Override
    public QemuPeer resolveParameter(ParameterContext parameterContext, ExtensionContext context) {
        String testClass = context.getRequiredTestClass().getSimpleName();
        String test = context.getTestMethod().map(Method::getName).orElse("class");
        Provisioning provisioning = Probe.RESULT.provisioning()
                .orElseThrow(() -> new IllegalStateException("QEMU peer unavailable: " + Probe.RESULT.problem().orElse("?")));
        return new QemuPeer(provisioning, QemuPeer.logRoot().resolve(testClass).resolve(test));
    }
}

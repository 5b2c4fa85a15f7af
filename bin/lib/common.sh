# Shared by the launchers in bin/: find a JDK 25 and keep the daemon jar built. Sourced, not run.

UMDEV_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
UMDEV_JAVA_RELEASE=25
UMDEV_DAEMON_JAR="$UMDEV_HOME/daemon/target/umdev-daemon.jar"

# Prints the major version of the java in JAVA_HOME-like directory $1, or 0.
umdev_java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p' | head -n 1
}

# Sets JAVA_HOME to a JDK >= 25: the current JAVA_HOME if it qualifies, else one under /usr/lib/jvm.
umdev_find_java() {
  if [ -n "${JAVA_HOME:-}" ] && [ "$(umdev_java_major "$JAVA_HOME" || echo 0)" -ge "$UMDEV_JAVA_RELEASE" ] 2>/dev/null; then
    return 0
  fi
  local candidate
  for candidate in /usr/lib/jvm/*; do
    if [ -x "$candidate/bin/java" ] && [ "$(umdev_java_major "$candidate")" -ge "$UMDEV_JAVA_RELEASE" ] 2>/dev/null; then
      export JAVA_HOME="$candidate"
      return 0
    fi
  done
  echo "umdev needs a JDK $UMDEV_JAVA_RELEASE or newer; install one (e.g. under /usr/lib/jvm) or set JAVA_HOME." >&2
  return 1
}

# Builds the daemon jar (tests skipped) when it is missing or older than any source or pom.
umdev_ensure_built() {
  if [ -f "$UMDEV_DAEMON_JAR" ] && [ -z "$(find "$UMDEV_HOME" -path "$UMDEV_HOME/.git" -prune -o \
      \( -name '*.java' -o -name 'pom.xml' -o -path '*/src/main/resources/*' \) -newer "$UMDEV_DAEMON_JAR" -print -quit)" ]; then
    return 0
  fi
  echo "umdev: building (first run, or sources changed)..." >&2
  (cd "$UMDEV_HOME" && ./mvnw -B -q -DskipTests -pl daemon -am package) >&2
}

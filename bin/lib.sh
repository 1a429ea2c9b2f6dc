# Shared by the bin/ launchers: locate the project, build it when needed, find java.
# shellcheck shell=bash

SHARDCLUSTER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

java_bin() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    echo "$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    command -v java
  else
    die "java not found: install a JDK 17 or newer, or set JAVA_HOME"
  fi
}

# Builds the runnable jars if any is missing or older than the sources.
# SHARDCLUSTER_NO_BUILD=1 skips this (the caller guarantees the jars are current).
ensure_built() {
  [ "${SHARDCLUSTER_NO_BUILD:-}" = "1" ] && return 0
  local stale="" target jar
  for target in coordinator shard-node shardctl; do
    jar="$SHARDCLUSTER_ROOT/$target/target/$target.jar"
    if [ ! -f "$jar" ]; then
      stale="$target is not built yet"
      break
    fi
    if [ -n "$(find "$SHARDCLUSTER_ROOT"/{proto,common,server-common,client,"$target"}/src/main \
        "$SHARDCLUSTER_ROOT"/{proto,common,server-common,client,"$target"}/pom.xml "$SHARDCLUSTER_ROOT/pom.xml" \
        -newer "$jar" -print -quit 2>/dev/null)" ]; then
      stale="sources changed since $target was built"
      break
    fi
  done
  [ -z "$stale" ] && return 0
  echo "building shardcluster ($stale); this takes a minute the first time..." >&2
  (cd "$SHARDCLUSTER_ROOT" && ./mvnw -q -B -DskipTests -Dspotless.check.skip=true package) >&2 \
    || die "build failed; run ./mvnw -DskipTests package to see why"
  }

# Runs a module's jar: run_jar MODULE ARGS...
run_jar() {
  local module="$1"
  shift
  ensure_built
  # shellcheck disable=SC2086
  exec "$(java_bin)" ${JAVA_OPTS:-} -jar "$SHARDCLUSTER_ROOT/$module/target/$module.jar" "$@"
}

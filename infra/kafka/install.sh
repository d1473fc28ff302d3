#!/usr/bin/env bash
# Resolve the Apache Kafka jars pinned in infra/kafka/pom.xml into infra/kafka/lib.
# Idempotent: does nothing when infra/kafka/lib/.stamp holds the current pom's hash.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"
lib="$here/lib"
stamp="$lib/.stamp"

want="$(sha256sum "$pom" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "kafka jars: up to date ($(ls "$lib"/*.jar | wc -l) jars in infra/kafka/lib)"
  exit 0
fi

command -v mvn >/dev/null || { echo "kafka jars: mvn not found (install maven and a JDK 17+)" >&2; exit 1; }
echo "kafka jars: resolving $(grep -oP '(?<=<kafka.version>)[^<]+' "$pom") with maven into infra/kafka/lib"
# Resolve into a fresh directory, then swap it in, so a failed run never leaves a half-filled lib.
tmp="$here/lib.tmp.$$"
trap 'rm -rf "$tmp"' EXIT
mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DoutputDirectory="$tmp"
echo "$want" > "$tmp/.stamp"
rm -rf "$lib"
mv "$tmp" "$lib"
echo "kafka jars: $(ls "$lib"/*.jar | wc -l) jars installed"

#!/usr/bin/env bash
# Make a fresh Debian 12 machine ready to build and test roadlog. Idempotent: a second run
# checks and does nothing. Steps: Node.js 24, npm ci, Debian packages, Kafka jars, build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
sudo_cmd=()
[[ "$(id -u)" == 0 ]] || sudo_cmd=(sudo)

# --- 0. A supported Node.js ------------------------------------------------------------------
# roadlog runs on Node.js 24 LTS or newer (package.json "engines"). A machine whose node is older
# (Debian 12's images ship 20, past its end of life on 2026-04-30) gets the pinned build below
# from the npm registry (the node-linux-<arch> packages are the nodejs.org binaries), unpacked
# into /usr/local/lib/roadlog-node/v<version> and linked as /usr/local/bin/node, which comes
# before /usr/bin on the usual PATH; the system's own node is left in place. npm itself runs
# on whatever node is first on the PATH, so npm test, npm start and the roadlog CLI all get 24.
node_version=24.22.3
node_min_major=24
node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if command -v node >/dev/null && (( $(node_major) >= node_min_major )); then
  echo "node: $(node -v) at $(command -v node)"
else
  case "$(uname -m)" in
    x86_64) node_arch=x64 ;;
    aarch64|arm64) node_arch=arm64 ;;
    armv7l) node_arch=armv7l ;;
    *) echo "bootstrap: no Node.js build for $(uname -m) in the npm registry: install Node.js >= $node_min_major yourself" >&2; exit 1 ;;
  esac
  node_home="/usr/local/lib/roadlog-node/v$node_version"
  if [[ ! -x "$node_home/bin/node" ]]; then
    echo "node: $(node -v 2>/dev/null || echo none) is too old; installing Node.js $node_version (npm package node-linux-$node_arch)"
    node_tmp="$(mktemp -d)"
    # npm pack checks the tarball against the registry's integrity hash.
    (cd "$node_tmp" && npm pack --silent "node-linux-$node_arch@$node_version" >/dev/null)
    "${sudo_cmd[@]}" mkdir -p "$node_home"
    "${sudo_cmd[@]}" tar -xzf "$node_tmp"/node-linux-*.tgz -C "$node_home" --strip-components=1 --no-same-owner
    rm -rf "$node_tmp"
  fi
  "${sudo_cmd[@]}" ln -sfn "$node_home/bin/node" /usr/local/bin/node
  hash -r
  if (( $(node_major) < node_min_major )); then
    echo "bootstrap: installed Node.js $node_version as /usr/local/bin/node, but \`node\` on this PATH is still $(node -v) at $(command -v node): put /usr/local/bin first in PATH" >&2
    exit 1
  fi
  echo "node: $(node -v) at $(command -v node)"
fi

# --- 1. node_modules matching package-lock.json -------------------------------------------
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
npm_stamp="node_modules/.roadlog-lock-sha256"
# True when every package in package-lock.json is installed at its locked version (npm's own
# hidden lockfile, node_modules/.package-lock.json, records what is installed).
node_modules_match_lock() {
  [[ -f node_modules/.package-lock.json ]] || return 1
  node -e '
    const fs = require("node:fs");
    const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages ?? {};
    const have = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages ?? {};
    for (const [k, v] of Object.entries(lock)) {
      if (k === "") continue;
      const h = have[k];
      if (!h) { if (v.optional) continue; process.exit(1); }
      if (h.version !== v.version) process.exit(1);
    }
    for (const k of Object.keys(have)) if (!(k in lock)) process.exit(1);
  '
}
if [[ -f "$npm_stamp" && "$(cat "$npm_stamp")" == "$lock_hash" ]]; then
  echo "npm: node_modules up to date"
elif node_modules_match_lock; then
  echo "$lock_hash" > "$npm_stamp"
  echo "npm: node_modules already match package-lock.json"
else
  echo "npm: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$npm_stamp"
fi

# --- 2. Debian packages --------------------------------------------------------------------
packages=(mosquitto mosquitto-clients influxdb chromium chromium-driver kcat iproute2 default-jre-headless maven openssl)
missing=()
for p in "${packages[@]}"; do
  # java and mvn may come from elsewhere (sdkman, a tarball): only ask apt when absent.
  if [[ "$p" == default-jre-headless ]] && command -v java >/dev/null; then continue; fi
  if [[ "$p" == maven ]] && command -v mvn >/dev/null; then continue; fi
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "apt: all packages present"
else
  echo "apt: installing ${missing[*]}"
  # Debian's mosquitto and influxdb start system-wide daemons on ports 1883 and 8086 when
  # installed. roadlog starts its own on free ports, so forbid service starts during the
  # install (policy-rc.d exit 101 = "action not allowed"); removed again afterwards.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
    "${sudo_cmd[@]}" chmod 755 "$policy"
    own_policy=1
  fi
  cleanup_policy() { if [[ $own_policy == 1 ]]; then "${sudo_cmd[@]}" rm -f "$policy"; fi; }
  trap cleanup_policy EXIT
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  cleanup_policy
  trap - EXIT
  echo "apt: installed ${#missing[@]} packages"
fi
# Under systemd, make sure the distribution's daemons neither run now nor start at boot.
if [[ -d /run/systemd/system ]]; then
  for svc in mosquitto influxdb; do
    if systemctl is-enabled --quiet "$svc" 2>/dev/null || systemctl is-active --quiet "$svc" 2>/dev/null; then
      "${sudo_cmd[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 || true
      echo "systemd: disabled and stopped $svc (roadlog starts its own)"
    fi
  done
fi

# --- 3. Kafka jars ---------------------------------------------------------------------------
bash infra/kafka/install.sh

# --- 4. The roadlog CLI (dist/) ---------------------------------------------------------------
# Rebuilt only when a source file or tsconfig.json is newer than the last build.
build_stamp=dist/.build-stamp
if [[ -f "$build_stamp" ]] && [[ -z "$(find shared edge cloud simulators infra tsconfig.json package-lock.json -name '*.ts' -newer "$build_stamp" -o -name '*.json' -newer "$build_stamp" 2>/dev/null | head -1)" ]]; then
  echo "build: dist/ up to date"
else
  echo "build: tsc"
  npm run --silent build
  touch "$build_stamp"
fi
echo "bootstrap: ready (run the CLI with: node dist/shared/cli/main.js, or put it on PATH with: npm link)"

#!/usr/bin/env bash
# Install the roadlog edge agent on a gateway (Raspberry Pi class, Debian-like, systemd) in one
# command. Needs only Node.js >= 24 (an LTS line that is still supported) and its npm on the target.
#
#   sudo bash install.sh [--from roadlog-X.Y.Z.tgz | --from DIR] [--root DIR] [--no-systemctl]
#
#   --from  what to install: a tarball made by `npm pack` of the roadlog repo (what you copy to
#           a gateway), or a directory holding a built roadlog package (a checkout after
#           `npm run build`, or the `package/` folder of an unpacked tarball), which is packed
#           first. Default: the package this script belongs to (../.. of this file).
#   --root  write everything under DIR instead of / (staging, tests). The system user is then
#           NOT created and nothing is chowned: the script says what it would have done.
#   --no-systemctl  never call systemctl. Without it systemctl runs only when systemd is
#           running (/run/systemd/system) and --root is /.
#
# What it does, each step checked first so a second run changes nothing:
#   1. npm install --global --prefix /opt/roadlog --omit=dev --omit=optional <tarball>  (skipped
#      when the same tarball, by sha256, is already installed) and /usr/local/bin/roadlog ->
#      /opt/roadlog/bin/roadlog. The cloud's packages (DuckDB's native binding for the archive and
#      the reports) are optionalDependencies: a gateway gets pure JavaScript only.
#   2. system user and group `roadlog` (home /var/lib/roadlog, no login shell)
#   3. /var/lib/roadlog (0750 roadlog:roadlog): the edge log
#   4. /etc/roadlog (0750 root:roadlog), edge.yaml (0640 root:roadlog) and an empty
#      vehicles.passwd (0600 roadlog:roadlog). Never overwritten once they exist.
#   5. /etc/systemd/system/roadlog-edge.service (0644), hardened; rewritten only when it differs
#      from what this version of the script writes (customize with `systemctl edit`, not here)
#   6. systemctl daemon-reload (when the unit changed), enable, start; try-restart when the
#      package changed while the service runs.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root=/
from=""
use_systemctl=auto

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --from) from="${2:?--from needs a tarball or a directory}"; shift 2 ;;
    --from=*) from="${1#--from=}"; shift ;;
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) root="${1#--root=}"; shift ;;
    --no-systemctl) use_systemctl=no; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "install.sh: $*" >&2; exit 1; }
say() { printf '%-8s %s\n' "$1:" "$2"; }

# --- 0. preconditions ------------------------------------------------------------------------
command -v node >/dev/null || die "node not found: install Node.js >= 24 first (nodejs.org binaries, or NodeSource's packages)"
command -v npm >/dev/null || die "npm not found: it ships with Node.js (Debian: apt-get install npm)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' \
  || die "Node.js $(node -v) at $(command -v node) is too old: roadlog needs Node.js >= 24 (an LTS line that is still supported; 20 reached its end of life on 2026-04-30)"
node_bin="$(command -v node)"
case "$node_bin" in
  /home/*|/root/*) echo "install.sh: warning: node is under a home directory ($node_bin); the unit has ProtectHome=yes, so the service will not find it. Install Node.js system-wide." >&2 ;;
esac

mkdir -p "$root"
root="$(cd "$root" && pwd)"
R="${root%/}"                # prefix for every path written; empty when root is /
staged=0; [[ "$root" != / ]] && staged=1
if [[ $staged == 0 && "$(id -u)" != 0 ]]; then die "run as root (sudo), or stage into a directory with --root DIR"; fi

prefix=/opt/roadlog
etc=/etc/roadlog
data=/var/lib/roadlog
unit=/etc/systemd/system/roadlog-edge.service
config="$etc/edge.yaml"
passwd="$etc/vehicles.passwd"

# chown only when installing for real: under --root the user does not exist.
own() { # own OWNER:GROUP PATH
  if [[ $staged == 0 ]]; then chown "$1" "$2"; fi
}
# "0750 roadlog:roadlog", or under --root "0750; roadlog:roadlog on a real install".
modes() { if [[ $staged == 0 ]]; then echo "$1 $2"; else echo "$1; $2 on a real install"; fi; }

# --- 1. the roadlog package --------------------------------------------------------------------
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
[[ -n "$from" ]] || from="$(cd "$script_dir/../.." && pwd)"
if [[ -d "$from" ]]; then
  [[ -f "$from/package.json" && -f "$from/dist/shared/cli/main.js" ]] || die "$from is not a built roadlog package (need package.json and dist/; in a checkout run npm run build)"
  # Pack it exactly as a user would ship it; npm pack is deterministic, so an unchanged
  # package gives the same sha256 and step 1 is skipped.
  tarball="$tmp/$(cd "$from" && npm pack --silent --pack-destination "$tmp" 2>/dev/null | tail -1)"
  [[ -f "$tarball" ]] || die "npm pack in $from failed"
elif [[ -f "$from" ]]; then
  tarball="$(cd "$(dirname "$from")" && pwd)/$(basename "$from")"
else
  die "--from $from: no such file or directory"
fi
sha="$(sha256sum "$tarball" | cut -d' ' -f1)"
stamp="$R$prefix/.roadlog-package-sha256"
package_changed=0
if [[ -f "$stamp" && "$(cat "$stamp")" == "$sha" && -x "$R$prefix/bin/roadlog" ]]; then
  say package "$prefix unchanged ($(basename "$tarball"))"
else
  say package "npm install --global --prefix $prefix $(basename "$tarball") (runtime dependencies only, no cloud-only optional ones)"
  mkdir -p "$R$prefix"
  # npm installs a global package's optionalDependencies even with --omit=optional (npm 11), so
  # the gateway's copy of the package has them removed from its package.json and is packed again.
  mkdir "$tmp/edge-only"
  tar -xzf "$tarball" -C "$tmp/edge-only"
  node -e 'const f = process.argv[1]; const p = JSON.parse(require("node:fs").readFileSync(f, "utf8")); delete p.optionalDependencies; require("node:fs").writeFileSync(f, JSON.stringify(p, null, 2) + "\n");' "$tmp/edge-only/package/package.json"
  mkdir "$tmp/edge-only/out"
  edge_tarball="$tmp/edge-only/out/$(cd "$tmp/edge-only/package" && npm pack --silent --pack-destination "$tmp/edge-only/out" 2>/dev/null | tail -1)"
  [[ -f "$edge_tarball" ]] || die "packing the gateway's copy of $(basename "$tarball") failed"
  npm install --global --prefix "$R$prefix" --omit=dev --omit=optional --no-audit --no-fund --loglevel=error "$edge_tarball" >/dev/null
  echo "$sha" > "$stamp"
  package_changed=1
fi
mkdir -p "$R/usr/local/bin"
if [[ "$(readlink "$R/usr/local/bin/roadlog" 2>/dev/null)" == "$prefix/bin/roadlog" ]]; then
  say link "/usr/local/bin/roadlog unchanged"
else
  ln -sfn "$prefix/bin/roadlog" "$R/usr/local/bin/roadlog"
  say link "/usr/local/bin/roadlog -> $prefix/bin/roadlog"
fi

# --- 2. the system user ------------------------------------------------------------------------
useradd_cmd=(useradd --system --user-group --home-dir "$data" --no-create-home --shell /usr/sbin/nologin --comment "roadlog edge agent" roadlog)
if [[ $staged == 1 ]]; then
  say user "skipped under --root $root (would run: ${useradd_cmd[*]}); files stay owned by $(id -un)"
elif getent passwd roadlog >/dev/null; then
  say user "roadlog exists"
else
  "${useradd_cmd[@]}"
  say user "created system user roadlog"
fi

# --- 3. data directory -------------------------------------------------------------------------
if [[ -d "$R$data" ]]; then
  say data "$data exists"
else
  install -d -m 0750 "$R$data"
  own roadlog:roadlog "$R$data"
  say data "created $data ($(modes 0750 roadlog:roadlog))"
fi

# --- 4. config and credentials (never overwritten) ---------------------------------------------
if [[ ! -d "$R$etc" ]]; then
  install -d -m 0750 "$R$etc"
  own root:roadlog "$R$etc"
  say config "created $etc ($(modes 0750 root:roadlog))"
fi
if [[ -e "$R$config" ]]; then
  say config "$config exists, left as is"
else
  cat > "$tmp/edge.yaml" <<EOF
# roadlog edge agent. Written once by infra/gateway/install.sh, which never overwrites it.
# Every key and its default: edge/README.md. After editing:
#   roadlog edge check-config $config && systemctl restart roadlog-edge
edge:
  # gatewayId: depot-01        # default: the host name
  dataDir: $data
  mqtt:
    mode: embedded
    host: 0.0.0.0              # vehicles connect here; 127.0.0.1 to accept local clients only
    port: 1883
    allowAnonymous: false      # never true on a gateway: any client could publish as any vehicle
    # One line per vehicle, added with:
    #   roadlog edge passwd $passwd VEHICLE_ID   (the secret on stdin)
    credentialsFile: $passwd
    # tls: { port: 8883, certFile: /etc/roadlog/tls/cert.pem, keyFile: /etc/roadlog/tls/key.pem }
  http:
    host: 127.0.0.1            # /healthz and /metrics stay on the gateway
    port: 9464
log:
  level: info
  format: json
# kafka:
#   brokers: [kafka-1.example.net:9093]
EOF
  install -m 0640 "$tmp/edge.yaml" "$R$config"
  own root:roadlog "$R$config"
  say config "created $config ($(modes 0640 root:roadlog))"
fi
if [[ -e "$R$passwd" ]]; then
  say passwd "$passwd exists, left as is"
else
  install -m 0600 /dev/null "$R$passwd"
  own roadlog:roadlog "$R$passwd"
  say passwd "created empty $passwd ($(modes 0600 roadlog:roadlog)); add vehicles with: roadlog edge passwd $passwd VEHICLE_ID"
fi

# --- 5. systemd unit ---------------------------------------------------------------------------
cat > "$tmp/unit" <<EOF
# Written by roadlog infra/gateway/install.sh; a new version of the script may rewrite it.
# Local changes: systemctl edit roadlog-edge (a drop-in survives reinstalls).
[Unit]
Description=roadlog edge agent (MQTT ingress, durable local log, forwarder to Kafka)
Documentation=file:///opt/roadlog/lib/node_modules/roadlog/README.md
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=roadlog
Group=roadlog
Environment=ROADLOG_HOME=$data
Environment=PATH=$(dirname "$node_bin"):/usr/local/bin:/usr/bin:/bin
ExecStart=$prefix/bin/roadlog edge start --config $config
# Clean stop (edge/cli.ts): on SIGTERM stop accepting, let in-flight publishes be stored and
# acknowledged (up to 5 s), flush and fsync the log. 20 s leaves room for a slow SD card before
# systemd sends SIGKILL, which loses nothing acknowledged but makes the next start recover.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=20s
Restart=always
RestartSec=2s
LimitNOFILE=65536
UMask=0027

# Hardening: the agent needs its data directory, the network, and nothing else.
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ReadWritePaths=$data
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
CapabilityBoundingSet=
AmbientCapabilities=
RemoveIPC=yes
PrivateMounts=yes
ProtectProc=invisible
# Not set on purpose: MemoryDenyWriteExecute=yes breaks V8's JIT; ProcSubset=pid hides
# /proc/cpuinfo and /proc/meminfo from os.cpus() and the metrics; SystemCallFilter= is not yet
# tried under a real systemd with Node (libuv probes io_uring and other calls at start).

[Install]
WantedBy=multi-user.target
EOF
unit_changed=0
if [[ -f "$R$unit" ]] && cmp -s "$tmp/unit" "$R$unit"; then
  say unit "$unit unchanged"
else
  mkdir -p "$(dirname "$R$unit")"
  install -m 0644 "$tmp/unit" "$R$unit"
  unit_changed=1
  say unit "wrote $unit"
fi

# --- 6. systemctl ------------------------------------------------------------------------------
if [[ $use_systemctl == auto ]]; then
  if [[ $staged == 0 && -d /run/systemd/system ]]; then use_systemctl=yes; else use_systemctl=no; fi
fi
if [[ $use_systemctl == yes ]]; then
  [[ $unit_changed == 1 ]] && systemctl daemon-reload
  systemctl is-enabled --quiet roadlog-edge 2>/dev/null || systemctl enable --quiet roadlog-edge
  if systemctl is-active --quiet roadlog-edge; then
    if [[ $package_changed == 1 || $unit_changed == 1 ]]; then systemctl try-restart roadlog-edge; say systemd "restarted roadlog-edge"; else say systemd "roadlog-edge enabled and running"; fi
  else
    systemctl start roadlog-edge
    say systemd "enabled and started roadlog-edge (journalctl -u roadlog-edge)"
  fi
else
  say systemd "systemctl not called (--root, --no-systemctl, or systemd not running); then: systemctl daemon-reload && systemctl enable --now roadlog-edge"
fi
echo "roadlog edge agent installed under $root"

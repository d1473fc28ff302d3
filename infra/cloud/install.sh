#!/usr/bin/env bash
# Install roadlog's cloud components on a server (Debian-like, systemd) in one command: the hot
# path, the archiver, the InfluxDB sink and the web console, each as its own systemd service.
# Needs Node.js >= 24 and its npm on the target, and npm able to fetch the dependencies.
#
#   sudo bash install.sh [--from roadlog-X.Y.Z.tgz | --from DIR] [--components LIST] [--root DIR] [--no-systemctl]
#
#   --from  what to install: a tarball made by `npm pack` of the roadlog repo, or a directory
#           holding a built roadlog package (a checkout after `npm run build`, or the `package/`
#           folder of an unpacked tarball), which is packed first. Default: the package this
#           script belongs to (../.. of this file).
#   --components  which services, comma-separated, of hot, cold, influx-sink, console
#           (default: all four). Run again with others to add them; none is ever removed.
#   --root  write everything under DIR instead of / (staging, tests). The system user is then
#           NOT created and nothing is chowned: the script says what it would have done.
#   --no-systemctl  never call systemctl. Without it systemctl runs only when systemd is
#           running (/run/systemd/system) and --root is /.
#
# What it does, each step checked first so a second run changes nothing:
#   1. npm install --global --prefix /opt/roadlog --omit=dev <tarball>, WITH the optional
#      dependencies (DuckDB's native binding for the archive and the reports, fastify and
#      echarts for the console), each then loaded once to prove it works on this machine.
#      Skipped when the same tarball (sha256) is installed and its optional dependencies are
#      there (a gateway install of the same tarball has them left out). Then
#      /usr/local/bin/roadlog -> /opt/roadlog/bin/roadlog.
#   2. system user and group `roadlog` (home /var/lib/roadlog, no login shell)
#   3. /var/lib/roadlog (0750 roadlog:roadlog); in it archive/ (cold, console) and console/
#      (the console's working directory, where DuckDB spills a big report's query)
#   4. /etc/roadlog (0750 root:roadlog), one COMPONENT.yaml (0640 root:roadlog) per component,
#      from infra/cloud/examples of the installed package with the archive and the users file
#      set to the paths above, and an empty console-users (0600 roadlog:roadlog). Never
#      overwritten once they exist.
#   5. /etc/systemd/system/roadlog-COMPONENT.service (0644), hardened; rewritten only when it
#      differs from what this version of the script writes (customize with `systemctl edit`)
#   6. systemctl daemon-reload (when a unit changed), enable, and start, except a service whose
#      config was just written (the example's Kafka brokers are placeholders: edit, then start);
#      try-restart a running service when the package or its unit changed.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
all_components=(hot cold influx-sink console)
root=/
from=""
use_systemctl=auto
components_arg="$(IFS=,; echo "${all_components[*]}")"

usage() { sed -n '2,37p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --from) from="${2:?--from needs a tarball or a directory}"; shift 2 ;;
    --from=*) from="${1#--from=}"; shift ;;
    --components) components_arg="${2:?--components needs a list, e.g. hot,cold}"; shift 2 ;;
    --components=*) components_arg="${1#--components=}"; shift ;;
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) root="${1#--root=}"; shift ;;
    --no-systemctl) use_systemctl=no; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "install.sh: $*" >&2; exit 1; }
say() { printf '%-8s %s\n' "$1:" "$2"; }

# The chosen components, in the canonical order, each once.
components=()
components_arg="${components_arg// /}"
IFS=, read -ra asked <<< "$components_arg"
for c in "${asked[@]}"; do
  [[ " ${all_components[*]} " == *" $c "* ]] || { echo "install.sh: --components: unknown component \"$c\" (choose from ${all_components[*]})" >&2; exit 2; }
done
for c in "${all_components[@]}"; do
  [[ ",$components_arg," == *",$c,"* ]] && components+=("$c")
done
[[ ${#components[@]} -gt 0 ]] || { echo "install.sh: --components: name at least one of ${all_components[*]}" >&2; exit 2; }
chosen() { [[ " ${components[*]} " == *" $1 "* ]]; }

# --- 0. preconditions ------------------------------------------------------------------------
command -v node >/dev/null || die "node not found: install Node.js >= 24 first (nodejs.org binaries, or NodeSource's packages)"
command -v npm >/dev/null || die "npm not found: it ships with Node.js (Debian: apt-get install npm)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 24 ? 0 : 1)' \
  || die "Node.js $(node -v) at $(command -v node) is too old: roadlog needs Node.js >= 24 (an LTS line that is still supported)"
node_bin="$(command -v node)"
case "$node_bin" in
  /home/*|/root/*) echo "install.sh: warning: node is under a home directory ($node_bin); the units have ProtectHome=yes, so the services will not find it. Install Node.js system-wide." >&2 ;;
esac

mkdir -p "$root"
root="$(cd "$root" && pwd)"
R="${root%/}"                # prefix for every path written; empty when root is /
staged=0; [[ "$root" != / ]] && staged=1
if [[ $staged == 0 && "$(id -u)" != 0 ]]; then die "run as root (sudo), or stage into a directory with --root DIR"; fi

prefix=/opt/roadlog
package_dir="$prefix/lib/node_modules/roadlog"
etc=/etc/roadlog
data=/var/lib/roadlog
archive="$data/archive"
console_dir="$data/console"
users="$etc/console-users"

own() { # own OWNER:GROUP PATH; only when installing for real: under --root the user does not exist
  if [[ $staged == 0 ]]; then chown "$1" "$2"; fi
}
modes() { if [[ $staged == 0 ]]; then echo "$1 $2"; else echo "$1; $2 on a real install"; fi; }

# --- 1. the roadlog package, with its optional dependencies ------------------------------------
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
[[ -n "$from" ]] || from="$(cd "$script_dir/../.." && pwd)"
if [[ -d "$from" ]]; then
  [[ -f "$from/package.json" && -f "$from/dist/shared/cli/main.js" ]] || die "$from is not a built roadlog package (need package.json and dist/; in a checkout run npm run build)"
  # npm pack is deterministic: an unchanged package gives the same sha256 and step 1 is skipped.
  tarball="$tmp/$(cd "$from" && npm pack --silent --pack-destination "$tmp" 2>/dev/null | tail -1)"
  [[ -f "$tarball" ]] || die "npm pack in $from failed"
elif [[ -f "$from" ]]; then
  tarball="$(cd "$(dirname "$from")" && pwd)/$(basename "$from")"
else
  die "--from $from: no such file or directory"
fi

# The optional dependencies the tarball's package.json names: what the installed copy must
# have (its own package.json may be a gateway install's, which has them removed).
mkdir "$tmp/wanted"
tar -xzf "$tarball" -C "$tmp/wanted" package/package.json 2>/dev/null || die "$tarball: no package/package.json in it (make it with npm pack)"
read -ra optional_deps <<< "$(node -e 'console.log(Object.keys(require(process.argv[1]).optionalDependencies ?? {}).join(" "))' "$tmp/wanted/package/package.json")"
optional_deps_present() {
  local name
  for name in "${optional_deps[@]}"; do [[ -f "$R$package_dir/node_modules/$name/package.json" ]] || return 1; done
}
# Loads each of them from the installed package; prints those that fail, and then exits 1.
optional_deps_load() {
  node --input-type=module -e '
    import { createRequire } from "node:module";
    import { pathToFileURL } from "node:url";
    const require = createRequire(process.argv[1] + "/package.json");
    let failed = 0;
    for (const name of process.argv.slice(2)) {
      try { await import(pathToFileURL(require.resolve(name)).href); }
      catch (err) { failed++; console.log(`${name}: ${err.message.split("\n")[0]}`); }
    }
    process.exit(failed === 0 ? 0 : 1);' "$R$package_dir" "${optional_deps[@]}"
}

sha="$(sha256sum "$tarball" | cut -d' ' -f1)"
stamp="$R$prefix/.roadlog-package-sha256"
package_changed=0
if [[ -f "$stamp" && "$(cat "$stamp")" == "$sha" && -x "$R$prefix/bin/roadlog" ]] && optional_deps_present; then
  say package "$prefix unchanged ($(basename "$tarball"))"
else
  say package "npm install --global --prefix $prefix $(basename "$tarball") (runtime and optional dependencies)"
  mkdir -p "$R$prefix"
  rm -f "$stamp"              # a failed install below must not pass for the old one next time
  npm install --global --prefix "$R$prefix" --omit=dev --no-audit --no-fund --loglevel=error "$tarball" >/dev/null
  # npm skips an optional dependency it cannot install (no DuckDB binding for this CPU or libc)
  # without a word: the cloud needs them all, so each is loaded here once.
  failed="$(optional_deps_load)" \
    || die "the cloud needs every optional dependency of roadlog, and on $(uname -m) these do not load: $failed (DuckDB publishes its binding for linux x64 and arm64 with glibc)"
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
useradd_cmd=(useradd --system --user-group --home-dir "$data" --no-create-home --shell /usr/sbin/nologin --comment "roadlog" roadlog)
if [[ $staged == 1 ]]; then
  say user "skipped under --root $root (would run: ${useradd_cmd[*]}); files stay owned by $(id -un)"
elif getent passwd roadlog >/dev/null; then
  say user "roadlog exists"
else
  "${useradd_cmd[@]}"
  say user "created system user roadlog"
fi

# --- 3. data directories -----------------------------------------------------------------------
data_dir() { # data_dir PATH WHAT
  if [[ -d "$R$1" ]]; then
    say data "$1 exists"
  else
    install -d -m 0750 "$R$1"
    own roadlog:roadlog "$R$1"
    say data "created $1 ($(modes 0750 roadlog:roadlog)): $2"
  fi
}
data_dir "$data" "roadlog's home"
if chosen cold || chosen console; then data_dir "$archive" "the Parquet archive (cold writes, console reads)"; fi
if chosen console; then data_dir "$console_dir" "the console's working directory (DuckDB spills to .tmp in it)"; fi

# --- 4. configs and the console's users (never overwritten) ------------------------------------
if [[ ! -d "$R$etc" ]]; then
  install -d -m 0750 "$R$etc"
  own root:roadlog "$R$etc"
  say config "created $etc ($(modes 0750 root:roadlog))"
fi
new_configs=()
for c in "${components[@]}"; do
  config="$etc/$c.yaml"
  if [[ -e "$R$config" ]]; then
    say config "$config exists, left as is"
    continue
  fi
  example="$R$package_dir/infra/cloud/examples/$c.yaml"
  [[ -f "$example" ]] || die "$example is missing from the installed package"
  {
    echo "# Written once by roadlog infra/cloud/install.sh (from infra/cloud/examples/$c.yaml), which"
    echo "# never overwrites it. Apply a change with: systemctl restart roadlog-$c"
    sed -E -e "s|^(  archive:) *[^ #]+|\\1 $archive|" -e "s|^(  usersFile:) *[^ #]+|\\1 $users|" "$example"
  } > "$tmp/$c.yaml"
  install -m 0640 "$tmp/$c.yaml" "$R$config"
  own root:roadlog "$R$config"
  new_configs+=("$c")
  say config "created $config ($(modes 0640 root:roadlog))"
done
if chosen console; then
  if [[ -e "$R$users" ]]; then
    say users "$users exists, left as is"
  else
    install -m 0600 /dev/null "$R$users"
    own roadlog:roadlog "$R$users"
    say users "created empty $users ($(modes 0600 roadlog:roadlog)); add a user with: roadlog console passwd $users NAME --role operator (the password on stdin)"
  fi
fi

# --- 5. systemd units --------------------------------------------------------------------------
# unit COMPONENT: the unit's text. What differs between components is set in the case below.
unit() {
  local c="$1" description command stop timeout restart_sec="5s" paths workdir=""
  case "$c" in
    hot)
      description="hot path (alert rules over the live telemetry, exactly once)"
      command="hot start"
      stop="on SIGTERM it commits what it has evaluated, ends its Kafka transactions and
# leaves the group (cloud/component.ts, cloud/hot/processor.ts)."
      timeout=30s
      paths="# Writes no file: Kafka holds its state (the changelog)." ;;
    cold)
      description="archiver (every telemetry record into the Parquet archive, exactly once)"
      command="cold start"
      stop="on SIGTERM it flushes every partition it holds to Parquet, commits and
# leaves the group (cloud/cold/archiver.ts); a large stage on a slow disk takes a while. A
# SIGKILL loses nothing (a start resumes from the archive's state files) but reads it again.
# A flush that fails (disk full, I/O error) makes it exit 1 on purpose, and Restart= resumes
# it from what the archive committed."
      timeout=120s
      restart_sec=10s
      paths="# The archive; DuckDB spills to archive/telemetry/_state/duckdb-*.tmp, inside it.
ReadWritePaths=$archive" ;;
    influx-sink)
      description="InfluxDB sink (telemetry and alert events as time series)"
      command="influx-sink start"
      stop="on SIGTERM it gives up retrying a batch and leaves the group; what it has
# not written is read again by the next member (cloud/influx/sink.ts, writer.ts)."
      timeout=30s
      paths="# Writes no file." ;;
    console)
      description="web console (alerts, vehicles, reports, events, gateways, health)"
      command="console"
      stop="on SIGTERM it closes the pages' event streams and its Kafka readers
# (cloud/console/cli.ts)."
      timeout=15s
      workdir="WorkingDirectory=$console_dir
"
      paths="# Reads the archive (read-only here) and $users; DuckDB, running the Reports page's
# queries, spills to .tmp in the working directory.
ReadWritePaths=$console_dir" ;;
  esac
  cat <<EOF
# Written by roadlog infra/cloud/install.sh; a new version of the script may rewrite it.
# Local changes: systemctl edit roadlog-$c (a drop-in survives reinstalls).
[Unit]
Description=roadlog $description
Documentation=file://$package_dir/infra/cloud/README.md
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=roadlog
Group=roadlog
Environment=ROADLOG_HOME=$data
Environment=PATH=$(dirname "$node_bin"):/usr/local/bin:/usr/bin:/bin
ExecStart=$prefix/bin/roadlog $command --config $etc/$c.yaml
${workdir}# Clean stop: $stop
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=$timeout
Restart=always
RestartSec=$restart_sec
LimitNOFILE=65536
UMask=0027

# Hardening: the network, the paths below, and nothing else.
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
$paths
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
# tried under a real systemd with Node.

[Install]
WantedBy=multi-user.target
EOF
}
changed_units=()
for c in "${components[@]}"; do
  path="/etc/systemd/system/roadlog-$c.service"
  unit "$c" > "$tmp/unit"
  if [[ -f "$R$path" ]] && cmp -s "$tmp/unit" "$R$path"; then
    say unit "$path unchanged"
  else
    mkdir -p "$(dirname "$R$path")"
    install -m 0644 "$tmp/unit" "$R$path"
    changed_units+=("$c")
    say unit "wrote $path"
  fi
done

# --- 6. systemctl ------------------------------------------------------------------------------
services="$(printf 'roadlog-%s ' "${components[@]}")"
if [[ $use_systemctl == auto ]]; then
  if [[ $staged == 0 && -d /run/systemd/system ]]; then use_systemctl=yes; else use_systemctl=no; fi
fi
if [[ $use_systemctl == yes ]]; then
  [[ ${#changed_units[@]} -gt 0 ]] && systemctl daemon-reload
  for c in "${components[@]}"; do
    s="roadlog-$c"
    systemctl is-enabled --quiet "$s" 2>/dev/null || systemctl enable --quiet "$s"
    if [[ " ${new_configs[*]} " == *" $c "* ]]; then
      # The example's Kafka brokers and InfluxDB are placeholders: started now, it would only fail.
      say systemd "enabled $s; start it once $etc/$c.yaml names your cluster: systemctl start $s"
    elif systemctl is-active --quiet "$s"; then
      if [[ $package_changed == 1 || " ${changed_units[*]} " == *" $c "* ]]; then systemctl try-restart "$s"; say systemd "restarted $s"; else say systemd "$s enabled and running"; fi
    else
      systemctl start "$s"
      say systemd "enabled and started $s (journalctl -u $s)"
    fi
  done
else
  say systemd "systemctl not called (--root, --no-systemctl, or systemd not running); then: systemctl daemon-reload && systemctl enable --now ${services% }"
fi
echo "roadlog cloud components installed under $root: ${components[*]}"

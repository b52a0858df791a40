#!/usr/bin/env bash
# slurm-local.sh — a one-node Slurm cluster on localhost, for the Slurm test (cmd/ptbench
# slurm_test.go) and for trying `ptbench slurm --submit` on a workstation.
#
#   scripts/slurm-local.sh start   # writes the config, starts munged, slurmctld, slurmd; waits for the node
#   scripts/slurm-local.sh stop    # stops the three daemons it started
#   scripts/slurm-local.sh status  # sinfo
#
# It installs nothing: it needs Debian's slurm-wlm and munge (scripts/test.sh installs them)
# and root (the daemons run as root; SlurmUser=root). Everything it writes lives under
# $SLURM_LOCAL_DIR (default /tmp/ptbench-slurm): slurm.conf, the munge key and socket, state,
# logs (slurmctld.log, slurmd.log) and pid files. /etc/slurm/slurm.conf is written too (a
# symlink to that slurm.conf, saving any existing file as slurm.conf.ptbench-saved) because
# Debian's sbatch/squeue read it there; `stop` puts the saved file back.
set -euo pipefail
DIR=${SLURM_LOCAL_DIR:-/tmp/ptbench-slurm}
CONF=/etc/slurm/slurm.conf
log() { echo "slurm-local: $*" >&2; }

need() {
  for b in munged slurmctld slurmd sinfo; do
    command -v "$b" >/dev/null || { log "$b not found: apt-get install slurm-wlm munge"; exit 1; }
  done
  [[ $(id -u) -eq 0 ]] || { log "must run as root (the daemons run as SlurmUser=root)"; exit 1; }
}

write_conf() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ {printf "%d", $2/1024*0.8}' /proc/meminfo) # MB, leave some for the OS
  mkdir -p "$DIR"/{state,spool,munge,log,run}
  cat >"$DIR/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh: one node on localhost.
ClusterName=ptbench
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldPort=6817
SlurmdPort=6818
MinJobAge=300
KillWait=5
InactiveLimit=0
Waittime=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
  mkdir -p /etc/slurm
  if [[ -e $CONF && ! -L $CONF && ! -e $CONF.ptbench-saved ]]; then
    mv "$CONF" "$CONF.ptbench-saved"
  fi
  ln -sfn "$DIR/slurm.conf" "$CONF"
}

start_munge() {
  if [[ ! -s $DIR/munge/munge.key ]]; then
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  fi
  chmod 700 "$DIR/munge"
  chmod 400 "$DIR/munge/munge.key"
  if [[ -S $DIR/munge/munge.socket ]] && munge -n -S "$DIR/munge/munge.socket" >/dev/null 2>&1; then
    return
  fi
  munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed"
  # Slurm's munge plugin looks at the default socket unless AuthInfo says otherwise; point
  # the default path at ours when no system munged owns it.
  mkdir -p /run/munge
  if ! [[ -S /run/munge/munge.socket.2 ]] || ! munge -n >/dev/null 2>&1; then
    ln -sfn "$DIR/munge/munge.socket" /run/munge/munge.socket.2
  fi
}

wait_idle() {
  local host deadline state
  host=$(hostname -s)
  deadline=$((SECONDS + ${SLURM_LOCAL_TIMEOUT:-60}))
  while ((SECONDS < deadline)); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null | head -1 || true)
    case $state in
      idle | mixed | allocated | completing) log "node $host is $state"; return 0 ;; # "idle*": not responding yet
      down* | drain*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 1
  done
  log "node $host did not become idle (state: ${state:-none}); logs:"
  tail -n 30 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
  return 1
}

pid_alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  need
  write_conf
  start_munge
  pid_alive "$DIR/run/slurmctld.pid" || slurmctld -i
  pid_alive "$DIR/run/slurmd.pid" || slurmd
  wait_idle
}

stop() {
  local p
  for p in slurmd slurmctld munged; do
    if pid_alive "$DIR/run/$p.pid"; then
      kill "$(cat "$DIR/run/$p.pid")" 2>/dev/null || true
    fi
  done
  for _ in $(seq 20); do
    pid_alive "$DIR/run/slurmctld.pid" || pid_alive "$DIR/run/slurmd.pid" || break
    sleep 0.5
  done
  if [[ -L $CONF ]]; then
    rm -f "$CONF"
    [[ -e $CONF.ptbench-saved ]] && mv "$CONF.ptbench-saved" "$CONF"
  fi
  if [[ -L /run/munge/munge.socket.2 && $(readlink /run/munge/munge.socket.2) == "$DIR/munge/munge.socket" ]]; then
    rm -f /run/munge/munge.socket.2
  fi
  log "stopped"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) sinfo ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A throwaway RabbitMQ node on loopback, all of its state in one folder, run as the current user without systemd.
# test.sh starts two (one shared, one the outage tests stop and restart); those tests call this script too.
#   rabbitmq.sh start DIR   first start: DIR must hold the 'ports' file written by 'init'; later starts reuse the
#                           node's data, so durable queues and their messages survive a stop/start
#   rabbitmq.sh init DIR AMQP_PORT DIST_PORT EPMD_PORT
#   rabbitmq.sh stop DIR    graceful stop (SIGTERM to the wrapper, which stops the VM); epmd keeps running
#   rabbitmq.sh kill DIR    stops the node and its epmd (test.sh's cleanup)
# Every port is given by the caller (chosen free at run time), including the Erlang distribution port and a private
# epmd, so two of these, or another project's RabbitMQ, never clash. No plugin is enabled (the stream plugin would
# take port 5552) and no CLI call is made: each costs ~0.7 s of Erlang start-up on a busy 2-core machine.
set -euo pipefail
cmd=${1:?usage: rabbitmq.sh init|start|stop|kill DIR ...}
dir=${2:?usage: rabbitmq.sh init|start|stop|kill DIR ...}

rmq_env() {
  # shellcheck disable=SC1091
  . "$dir/ports"
  export HOME=$dir/home   # the Erlang cookie lives in $HOME
  export RABBITMQ_NODENAME="rabbit-$(basename "$dir")@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$AMQP_PORT RABBITMQ_DIST_PORT=$DIST_PORT ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log RABBITMQ_PID_FILE=$dir/beam.pid
  export RABBITMQ_CONFIG_FILE=$dir/rabbitmq RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
  export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop_pid() {
  local f=$1 t=$2 p
  alive "$f" || { rm -f "$f"; return 0; }
  p=$(cat "$f"); kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq $((t * 10))); do kill -0 "$p" 2>/dev/null || { rm -f "$f"; return 0; }; sleep 0.1; done
  echo "rabbitmq.sh: pid $p did not stop in ${t}s, killing" >&2; kill -KILL "$p" 2>/dev/null || true; rm -f "$f"
}
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

case $cmd in
  init)
    rm -rf "$dir"; mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
    printf 'AMQP_PORT=%s\nDIST_PORT=%s\nEPMD_PORT=%s\n' "${3:?AMQP_PORT}" "${4:?DIST_PORT}" "${5:?EPMD_PORT}" >"$dir/ports"
    : >"$dir/rabbitmq-env.conf"; echo '[].' >"$dir/enabled_plugins"; echo '[].' >"$dir/advanced.config"
    # Memory and disk alarms would block publishers on a busy CI box for reasons no test is about.
    # shellcheck disable=SC1091
    . "$dir/ports"
    printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users.guest = true\ndisk_free_limit.absolute = 50MB\nvm_memory_high_watermark.relative = 0.8\n' \
      "$AMQP_PORT" >"$dir/rabbitmq.conf"
    ;;
  start)
    rmq_env
    if ! alive "$dir/epmd.pid"; then
      nohup epmd -address 127.0.0.1 -port "$EPMD_PORT" >>"$dir/log/epmd.log" 2>&1 &
      echo $! >"$dir/epmd.pid"
    fi
    nohup /usr/lib/rabbitmq/bin/rabbitmq-server >>"$dir/log/console.log" 2>&1 &
    echo $! >"$dir/server.pid"
    # The AMQP listener opens at the very end of boot, so an open port means a running broker.
    for _ in $(seq 1200); do
      tcp_open "$AMQP_PORT" && exit 0
      alive "$dir/server.pid" || { echo "rabbitmq.sh: the node exited while starting; log:" >&2; tail -n 30 "$dir/log/console.log" >&2; exit 1; }
      sleep 0.1
    done
    echo "rabbitmq.sh: the node did not open port $AMQP_PORT within 120 s" >&2; tail -n 30 "$dir/log/console.log" >&2; exit 1
    ;;
  stop)
    stop_pid "$dir/server.pid" 60
    ;;
  kill)
    [ -f "$dir/ports" ] || exit 0
    stop_pid "$dir/server.pid" 30; stop_pid "$dir/epmd.pid" 5
    ;;
  *) echo "usage: rabbitmq.sh init|start|stop|kill DIR ..." >&2; exit 2 ;;
esac

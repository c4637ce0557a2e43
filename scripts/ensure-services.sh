#!/usr/bin/env bash
# Makes sure what Sluice needs on this machine is there: GNU time, ImageMagick for the
# examples, RabbitMQ running, and PostgreSQL for the tests. Starts them when installed; installs them from Debian's packages
# when missing and running as root. Other machines: point SLUICE_BROKER_URL and
# SLUICE_TEST_POSTGRES_URL at yours.
set -euo pipefail

for_tests=0
[ "${1:-}" = "--for-tests" ] && for_tests=1

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 120); do listening "$1" && return 0; sleep 0.5; done
  echo "ensure-services: nothing answers on 127.0.0.1:$1 after 60 s" >&2
  return 1
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-services: $* missing; install it (apt-get install $*) or run as root" >&2
    exit 1
  fi
  [ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# GNU time reports a function's true peak memory (see workers/executors/process.py);
# bubblewrap sandboxes functions and prlimit (util-linux) limits them
# (workers/executors/sandbox.py), which run as the unprivileged user sluice-fn;
# ImageMagick runs the example pipeline (examples/thumbnails.yaml).
if [ "$(id -u)" = 0 ]; then
  [ -x /usr/bin/time ] || apt_install time
  command -v bwrap >/dev/null || apt_install bubblewrap
  command -v prlimit >/dev/null || apt_install util-linux
  command -v mogrify >/dev/null || apt_install imagemagick
  id sluice-fn >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin sluice-fn
fi

if [ -z "${SLUICE_BROKER_URL:-}" ] && ! listening 5672; then
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  echo "ensure-services: starting RabbitMQ"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_port 5672
fi

# The container executor's tests: Podman (with runc, as DESIGN.md says) and busybox for an
# image built without any registry.
if [ "$for_tests" = 1 ] && [ "$(id -u)" = 0 ]; then
  command -v podman >/dev/null && command -v runc >/dev/null && command -v busybox >/dev/null \
    || apt_install podman runc busybox-static
fi

if [ "$for_tests" = 1 ] && [ -z "${SLUICE_TEST_POSTGRES_URL:-}" ] && ! listening 5432; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  echo "ensure-services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  wait_port 5432
fi

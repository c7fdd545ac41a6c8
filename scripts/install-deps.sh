#!/usr/bin/env bash
# Installs everything perfd needs to build, test and run its example, from
# Debian 12's archive only (PyPI is never used). Idempotent: apt-get skips what
# is already installed, and the slow `apt-get update` runs only when a package
# is missing.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config clang llvm clang-format
  # fuzz targets (fuzz/): libFuzzer and the sanitizer runtimes for clang 14
  libclang-rt-14-dev
  libbpf-dev bpftool libelf-dev zlib1g-dev
  prometheus-cpp-dev libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libgtest-dev libgmock-dev
  # the Kubernetes API client (daemon/kubernetes/api_client.cc)
  libcurl4-openssl-dev
  # workloads and test peers
  python3 python3-fastapi python3-uvicorn python3-uvloop python3-httptools
  python3-asyncpg python3-psycopg python3-jwt python3-pydantic python3-pytest gunicorn
  # redis-py records the Redis decoder fixtures (tests/unit/redis/record_sessions.py);
  # with psycopg's pool it is a client of the e2e DB workload (tests/e2e/apps/db_app.py)
  python3-redis python3-psycopg-pool
  python3-yaml  # the Grafana dashboards' kustomization (tests/e2e/test_dashboards.py)
  postgresql redis-server wrk prometheus curl procps iproute2
  openssl  # self-signed certificates: the postgres_tls e2e fixture, re-recording tests/unit/pgsql fixtures
  # reading pprof profiles in tests (go tool pprof)
  golang-go
  # the container image (deploy/image/build.sh) and its test (tests/e2e/test_image.py):
  # buildah builds it FROM scratch, podman runs it (runc: crun refuses hybrid
  # cgroup v1 hosts), netavark/aardvark for its pod-like network namespace
  buildah podman runc uidmap fuse-overlayfs netavark aardvark-dns
  containernetworking-plugins catatonit slirp4netns binutils
  # the manifests' test (tests/deploy): PyYAML, and node for validate.js
  python3-yaml
)
# kubectl renders the Kustomize manifests: Debian's kubernetes-client (1.20),
# unless a kubectl is installed already (it would conflict with that one).
command -v kubectl >/dev/null || PKGS+=(kubernetes-client)
# node + npm run the schema validation (tests/deploy/validate.js); a node from
# elsewhere (e.g. NodeSource) is used as is, Debian's otherwise.
command -v npm >/dev/null || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The manifests' validators, pinned by tests/deploy/package-lock.json; npm ci
# again only when the lock file changed.
deploy_tests="$(cd "$(dirname "$0")/../tests/deploy" && pwd)"
if ! cmp -s "$deploy_tests/package-lock.json" "$deploy_tests/node_modules/.package-lock.json.installed"; then
  (cd "$deploy_tests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$deploy_tests/package-lock.json" "$deploy_tests/node_modules/.package-lock.json.installed"
fi
# The Debian packages start system services we do not want running behind the
# tests' backs (tests start their own throwaway instances on loopback).
for svc in prometheus redis-server postgresql; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
echo "install-deps: ok"

#!/usr/bin/env bash
# scripts/rehearse-release.sh [-as-is] [-rev REV] [-version vX.Y.Z]
#
# Rehearses a release without publishing anything: in a throw-away clone of
# REV (default HEAD), scripts/release.sh tags every public module; the
# modules are packed at their tags into a file-based module proxy, and a
# new user's module outside the repository then, against that proxy:
#   - go gets each public module alone (the root; redisrevocation without
#     the root required first, and a package importing only it tidied;
#     each Redis driver; otelmetrics, promcollector),
#   - runs `go run .../cmd/cookiesession@VERSION secret` and, against a
#     redis-server, `.../redisrevocation/cmd/cookiesession-revoke@VERSION state`,
#   - builds and runs the README's Quick start and the first snippet of each
#     module README.
# With -as-is the clone is packed at REV as it stands, without the release
# script: what tagging that commit by hand would publish.
# The version defaults to the one the sub-modules require the root at, or
# the next patch release once that one is tagged.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rev=HEAD as_is= version=
while [ $# -gt 0 ]; do
  case $1 in
    -as-is) as_is=1; shift ;;
    -rev) rev=$2; shift 2 ;;
    -version) version=$2; shift 2 ;;
    *) echo "usage: scripts/rehearse-release.sh [-as-is] [-rev REV] [-version vX.Y.Z]" >&2; exit 2 ;;
  esac
done
module=github.com/cookiesession/cookiesession
if [ -z "$version" ]; then
  version=$(cd "$repo/redisrevocation" && go mod edit -json | sed -n '/"Require"/,/\]/{/"Path": "github.com\/cookiesession\/cookiesession"/{n;s/.*"Version": "\(.*\)".*/\1/p}}')
fi
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "rehearsal: no version to rehearse (got '$version')" >&2; exit 2; }
# Once that version is tagged, rehearse the next patch release.
while git -C "$repo" rev-parse -q --verify "refs/tags/$version" >/dev/null; do
  patch=${version##*.}
  version=${version%.*}.$((patch + 1))
done

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if declare -F forget_ours >/dev/null; then forget_ours; fi
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "== rehearsal (${SECONDS}s): $*"; }

commit=$(git -C "$repo" rev-parse "$rev^{commit}")
step "clone $commit; $version${as_is:+, as it stands}"
git clone -q "$repo" "$work/repo"
git -C "$work/repo" checkout -q --detach "$commit"
if [ -z "$as_is" ]; then
  step "the release script refuses an untracked file and a commit CI did not pass on"
  touch "$work/repo/stray"
  if (cd "$work/repo" && scripts/release.sh -ci-passed "$commit" "$version" 2>&1); then
    echo "rehearsal: release.sh went ahead with an untracked file" >&2; exit 1
  fi
  rm "$work/repo/stray"
  if (cd "$work/repo" && scripts/release.sh -ci-passed "$commit^" "$version" 2>&1); then
    echo "rehearsal: release.sh went ahead on a commit CI did not pass on" >&2; exit 1
  fi
  step "scripts/release.sh $version"
  (cd "$work/repo" && GIT_AUTHOR_NAME=rehearsal GIT_AUTHOR_EMAIL=rehearsal@example.com \
    GIT_COMMITTER_NAME=rehearsal GIT_COMMITTER_EMAIL=rehearsal@example.com \
    scripts/release.sh -ci-passed "$commit" "$version")
  pack_rev=()
else
  pack_rev=(-rev "$commit")
fi
step "pack the public modules into a file-based module proxy"
go -C "$repo/internal/releasetool" run . pack -repo "$work/repo" -out "$work/proxy" -version "$version" "${pack_rev[@]}"

# A new user: our modules from the file proxy, everything else as usual
# (through the module cache already on this machine first, to spare the
# network); the checksum database is skipped for our module path only. The
# module cache is one of the rehearsal's own, kept between runs for the
# dependencies, from which our modules are removed before and after, so
# that nothing packed before can stand in for what is packed now.
realcache=$(go env GOMODCACHE)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/cookiesession-rehearsal/mod
forget_ours() {
  chmod -R u+w "$cache/github.com/cookiesession" "$cache/cache/download/github.com/cookiesession" 2>/dev/null || true
  rm -rf "$cache/github.com/cookiesession" "$cache/cache/download/github.com/cookiesession"
}
# One rehearsal at a time uses that cache: another's forget_ours would
# delete our modules under this one's build.
mkdir -p "$cache"
exec 9>"$cache.lock"
flock 9
forget_ours
export GOPROXY="file://$work/proxy,file://$realcache/cache/download,$(go env GOPROXY)"
export GONOSUMDB=$module GOFLAGS="$(go env GOFLAGS) -modcacherw" GOMODCACHE=$cache
export GOWORK=off
# The go command indexes each module in its cache once, by path and
# version, trusting the cache never to change; ours is packed anew every
# run under the same version, so an index of an earlier run would list its
# files (a file added since would be missing from the build).
export GODEBUG=goindex=0
unset GOPRIVATE GONOPROXY

fresh() { # fresh NAME: a new module outside the repository
  mkdir -p "$work/user/$1" && cd "$work/user/$1" && go mod init "example.com/$1" >/dev/null 2>&1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # wait_port PORT PID
  for _ in $(seq 100); do
    if (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
first_go_snippet() { awk '/^```go$/{f=1;next} f&&/^```$/{exit} f' "$1"; }
requires() { # requires MODULE VERSION: go.mod of the current module requires it
  go list -m -f '{{.Version}}' "$1" | grep -qx "$2" || { echo "rehearsal: $1 is not at $2" >&2; exit 1; }
}

step "go run $module/cmd/cookiesession@$version secret"
secret=$(cd "$work" && go run "$module/cmd/cookiesession@$version" secret)
[ ${#secret} -ge 43 ] || { echo "rehearsal: the secret printed is too short: $secret" >&2; exit 1; }
export COOKIESESSION_SECRETS=$secret

step "go get $module alone, and the README's Quick start"
fresh root
go get "$module"
requires "$module" "$version"
first_go_snippet "$work/repo/README.md" > main.go
port=$(free_port)
sed -i "s/\":8080\"/\"127.0.0.1:$port\"/" main.go
go mod tidy
go build -o quickstart .
./quickstart & pids+=($!)
wait_port "$port" "${pids[-1]}" || { echo "rehearsal: the Quick start did not listen" >&2; exit 1; }
login=$(curl -sS -D - -o /dev/null -X POST "http://127.0.0.1:$port/login")
grep -q '^HTTP/1.1 303' <<<"$login" || { echo "rehearsal: POST /login: $login" >&2; exit 1; }
cookie=$(sed -n 's/^Set-Cookie: \(__Host-session=[^;]*\);.*/\1/p' <<<"$login")
[ -n "$cookie" ] || { echo "rehearsal: POST /login set no session cookie: $login" >&2; exit 1; }
page=$(curl -sS -H "Cookie: $cookie" "http://127.0.0.1:$port/")
[ "$page" = $'Welcome back!\n42 true' ] || { echo "rehearsal: GET / with the session: $page" >&2; exit 1; }
echo "Quick start: POST /login, then GET / -> $(tr '\n' ' ' <<<"$page")"

step "go get $module/redisrevocation alone, without the root first"
fresh revocation
go get "$module/redisrevocation"
requires "$module/redisrevocation" "$version"
requires "$module" "$version"
fresh revocationonly
printf 'package main\n\nimport _ "%s/redisrevocation"\n\nfunc main() {}\n' "$module" > main.go
go mod tidy
go build ./...
for driver in rueidisdriver goredisdriver; do
  step "go get $module/redisrevocation/$driver alone"
  fresh "$driver"
  go get "$module/redisrevocation/$driver"
  requires "$module/redisrevocation/$driver" "$version"
  requires "$module/redisrevocation" "$version"
  printf 'package main\n\nimport _ "%s/redisrevocation/%s"\n\nfunc main() {}\n' "$module" "$driver" > main.go
  go mod tidy
  go build ./...
  # The other client, and its driver, are nowhere in this module's graph.
  other=$([ "$driver" = rueidisdriver ] && echo 'redis/go-redis|/goredisdriver' || echo 'redis/rueidis|/rueidisdriver')
  go mod graph > graph.txt
  if grep -E "$other" graph.txt; then
    echo "rehearsal: a module on $driver has the other client in its module graph" >&2; exit 1
  fi
  echo "$driver: the other client is not in the module graph ($(wc -l < graph.txt) edges)"
done
step "the redisrevocation README's first snippet, against a redis-server of its own"
fresh revocationsnippet
{
  printf 'package main\n\nimport (\n\t"context"\n\t"fmt"\n\t"log"\n\t"time"\n\n\t"github.com/cookiesession/cookiesession"\n\t"github.com/cookiesession/cookiesession/redisrevocation"\n\t"github.com/cookiesession/cookiesession/redisrevocation/goredisdriver"\n\t"github.com/redis/go-redis/v9"\n)\n\n'
  printf 'func main() {\n\tkeys := [][]byte{cookiesession.GenerateSecret()}\n'
  first_go_snippet "$work/repo/redisrevocation/README.md"
  printf '\tif err != nil {\n\t\tlog.Fatal(err)\n\t}\n\tfmt.Println("revocations:", sessions.RevokeAll(ctx))\n}\n'
} > main.go
go mod tidy
go build -o snippet .
if command -v redis-server >/dev/null; then
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 & pids+=($!)
  wait_port "$rport" "${pids[-1]}" || { echo "rehearsal: redis-server did not start" >&2; cat "$work/redis.log" >&2; exit 1; }
  sed -i "s/127.0.0.1:6379/127.0.0.1:$rport/" main.go
  go build -o snippet .
  out=$(./snippet)
  [ "$out" = "revocations: <nil>" ] || { echo "rehearsal: the redisrevocation snippet printed: $out" >&2; exit 1; }
  echo "redisrevocation snippet: $out"
  out=$(cd "$work" && REDIS_ADDR=127.0.0.1:$rport go run "$module/redisrevocation/cmd/cookiesession-revoke@$version" state)
  grep -q '"everyone_entries": 1' <<<"$out" || { echo "rehearsal: cookiesession-revoke state printed: $out" >&2; exit 1; }
  echo "go run $module/redisrevocation/cmd/cookiesession-revoke@$version state: $(tr -d '\n' <<<"$out" | cut -c1-120)"
elif [ "${CI:-}" = true ]; then
  echo "rehearsal: redis-server is missing" >&2; exit 1
else
  echo "redisrevocation snippet: built; not run (no redis-server)"
fi

# metrics_program NAME MODULE: the first Go snippet of MODULE's README, a
# whole program serving a visit counter and, on an internal address,
# /metrics; built and run on free ports, then scraped after one visit.
metrics_program() {
  step "go get $module/$2 alone, and its README's first snippet"
  fresh "$1"
  go get "$module/$2"
  requires "$module/$2" "$version"
  first_go_snippet "$work/repo/$2/README.md" > main.go
  local port admin visit scrape
  port=$(free_port); admin=$(free_port)
  sed -i "s/\":8080\"/\"127.0.0.1:$port\"/; s/\"127.0.0.1:9090\"/\"127.0.0.1:$admin\"/" main.go
  go mod tidy
  go build -o "$1" .
  "./$1" & pids+=($!)
  wait_port "$port" "${pids[-1]}" && wait_port "$admin" "${pids[-1]}" \
    || { echo "rehearsal: the $2 program did not listen" >&2; exit 1; }
  visit=$(curl -sS "http://127.0.0.1:$port/")
  scrape=$(curl -sS "http://127.0.0.1:$admin/metrics")
  grep -q '^cookiesession_session_writes_total{.*outcome="written".*} 1$' <<<"$scrape" \
    && grep -q '^cookiesession_cookie_size_bytes_count{.*} 1$' <<<"$scrape" \
    || { echo "rehearsal: /metrics of $2 after one visit ($visit):" >&2; echo "$scrape" >&2; exit 1; }
  echo "$2 snippet: GET / -> $visit; /metrics counts one session written, in the size histogram too"
}
metrics_program metrics otelmetrics
metrics_program prom promcollector

step "passed: every public module at $version resolves from the proxy and runs"

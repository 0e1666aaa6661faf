#!/usr/bin/env bash
# scripts/release.sh [-ci-passed COMMIT] vX.Y.Z
#
# Prepares a release in the local repository and tags it; it never pushes.
#   1. Refuses a dirty work tree, a version already tagged, and a red tree:
#      either -ci-passed names the commit CI passed on, which must be HEAD,
#      or the script runs go vet and go test in every public module itself.
#   2. Moves CHANGELOG.md's Unreleased entries under "## [X.Y.Z] - today".
#   3. Makes every public sub-module require the root at vX.Y.Z (their
#      "replace ../" keeps development on the working tree; consumers
#      ignore it).
#   4. Runs the release checks (no binaries, module zip sizes, the API),
#      commits "Release vX.Y.Z", and tags it in dependency order: vX.Y.Z for
#      the root, then redisrevocation/vX.Y.Z and the other sub-modules.
# It ends by printing the push command for the maintainer to run.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/release.sh [-ci-passed COMMIT] vX.Y.Z" >&2; exit 2; }
ci_passed=
while [ $# -gt 0 ]; do
  case $1 in
    -ci-passed) [ $# -ge 2 ] || usage; ci_passed=$2; shift 2 ;;
    -*) usage ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || usage
version=$1
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "release: $version is not vMAJOR.MINOR.PATCH" >&2; exit 2; }

refuse() { echo "release: refusing: $*" >&2; exit 1; }

if [ -n "$(git status --porcelain)" ]; then
  git status --short >&2
  refuse "the work tree has uncommitted or untracked changes"
fi
mapfile -t modules < <(go -C internal/releasetool run . modules)
tags=()
for m in "${modules[@]}"; do
  if [ "$m" = . ]; then tag=$version; else tag=$m/$version; fi
  if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then refuse "tag $tag exists already"; fi
  tags+=("$tag")
done

head=$(git rev-parse HEAD)
if [ -n "$ci_passed" ]; then
  [ "$(git rev-parse -q --verify "$ci_passed^{commit}" || true)" = "$head" ] \
    || refuse "-ci-passed $ci_passed is not HEAD ($head): CI must have passed on the commit being released"
  echo "release: CI passed on $head"
else
  echo "release: no -ci-passed: running go vet and go test in every public module"
  for m in "${modules[@]}"; do
    (cd "$m" && go vet ./... && go test -count=1 ./...) || refuse "the tests of module $m fail"
  done
fi

go -C internal/releasetool run . changelog -version "$version" -date "$(date -u +%F)"
for m in "${modules[@]}"; do
  [ "$m" = . ] && continue
  # Every module of this repository it requires (the root, and for an
  # adapter the module it adapts) moves to the version tagged with it.
  # Only what it requires: a replace alone (for tidy) adds no requirement.
  for dep in $(cd "$m" && go mod edit -json | sed -n '/"Require"/,/\]/s/^[[:space:]]*"Path": "\(github.com\/cookiesession\/cookiesession\(\/[^"]*\)\{0,1\}\)",*$/\1/p' | sort -u); do
    [ "$dep" = "github.com/cookiesession/cookiesession/$m" ] && continue # its own module line
    (cd "$m" && go mod edit -require="$dep@$version")
  done
done
go -C internal/releasetool run . check

git add -A
git commit -q -m "Release $version"
for tag in "${tags[@]}"; do
  git tag -a "$tag" -m "cookiesession ${tag}"
done
echo "release: tagged $(git rev-parse --short HEAD) as ${tags[*]}; nothing was pushed. To publish:"
echo "  git push origin HEAD ${tags[*]}"

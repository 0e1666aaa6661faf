#!/usr/bin/env bash
# Checks the exported API of every public module against its record in
# api/*.txt, or with -update rewrites the record from the code (then review
# and commit api/). See CONTRIBUTING.md, "The API".
set -euo pipefail
cd "$(dirname "$0")/.."
exec go -C internal/releasetool run . api "$@"

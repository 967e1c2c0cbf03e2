#!/usr/bin/env bash
# Compiles castpool for production (`npm start` runs dist/main.js, no TypeScript loader at run time)
# and copies the files it reads next to its modules. Incremental: a second build takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.build.json
cp src/actors/chromium-as-user.sh dist/actors/
rm -rf dist/actors/capture-extension dist/api/pages
cp -r src/actors/capture-extension dist/actors/
cp -r src/api/pages dist/api/

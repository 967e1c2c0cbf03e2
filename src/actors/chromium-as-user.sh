#!/bin/sh
# castpool runs Chromium through this when it runs as root: as an unprivileged user, with its
# sandbox on, in an environment of a few variables (never castpool's own: API tokens, NATS
# credentials). puppeteer passes the target in CASTPOOL_BROWSER_*; Chromium's arguments follow.
set -eu
exec /usr/bin/env -i \
  PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  HOME="$CASTPOOL_BROWSER_HOME" \
  TMPDIR="$CASTPOOL_BROWSER_TMPDIR" \
  LANG=C.UTF-8 \
  /usr/bin/setpriv --reuid="$CASTPOOL_BROWSER_UID" --regid="$CASTPOOL_BROWSER_GID" --clear-groups \
  -- "$CASTPOOL_BROWSER_BINARY" "$@"

#!/bin/bash
# galera1's entrypoint: on a brand-new data volume (no grastate.dat yet) it bootstraps the
# cluster; every later start joins the running cluster like the other two, so a restart of
# galera1 alone never splits it in two. After a stop of all three, bootstrap by hand from the
# node with the highest seqno: docs/scaling.md, "Galera".
set -euo pipefail
if [ ! -e /var/lib/mysql/grastate.dat ]; then
  set -- "$@" --wsrep-new-cluster
fi
exec docker-entrypoint.sh "$@"

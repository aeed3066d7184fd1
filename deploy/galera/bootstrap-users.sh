#!/bin/bash
# Sourced once by the bootstrap node's entrypoint (docker-entrypoint-initdb.d); the joiners
# receive these accounts with their first state transfer. `haproxy` may only log in (its health
# check); `mariabackup` copies the data directory to a joining node.
docker_process_sql <<SQL
CREATE USER IF NOT EXISTS 'haproxy'@'%';
CREATE USER IF NOT EXISTS 'mariabackup'@'localhost' IDENTIFIED BY '${MARIADB_BACKUP_PASSWORD}';
GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO 'mariabackup'@'localhost';
SQL

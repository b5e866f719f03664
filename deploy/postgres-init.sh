#!/bin/sh
# The product's own database beside Temporal's, created on the PostgreSQL container's first start
# (docker-entrypoint-initdb.d). Its password comes from the environment or a secret file, never
# from the repository: PRODUCT_DB_PASSWORD, or PRODUCT_DB_PASSWORD_FILE (docs/DEPLOYMENT.md).
set -eu
if [ -n "${PRODUCT_DB_PASSWORD_FILE:-}" ]; then
    PRODUCT_DB_PASSWORD="$(cat "$PRODUCT_DB_PASSWORD_FILE")"
fi
: "${PRODUCT_DB_PASSWORD:?set PRODUCT_DB_PASSWORD or PRODUCT_DB_PASSWORD_FILE, see docs/DEPLOYMENT.md}"
# psql quotes the value itself (:'password'), whatever characters it holds.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v password="$PRODUCT_DB_PASSWORD" <<'SQL'
CREATE USER product WITH PASSWORD :'password';
CREATE DATABASE product OWNER product;
SQL

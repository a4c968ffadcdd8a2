"""Flower's configuration file: Flower runs ./flowerconfig.py from its working directory.

Flower serves /metrics without authentication even when basic auth is on, and the
metrics name every worker and every task type. Flower has no option to protect it,
so this file, which Flower executes before it builds its handlers, puts /metrics
behind the same basic auth as the UI and API: a Prometheus scraper uses the
`basic_auth` of its scrape config. /healthcheck stays anonymous on purpose: it
answers the literal "OK" and names nothing, for a load balancer's check.
"""

from flower.views.monitor import Metrics
from tornado.web import authenticated

if not getattr(Metrics.get, "_clinic_authenticated", False):
    Metrics.get = authenticated(Metrics.get)
    Metrics.get._clinic_authenticated = True

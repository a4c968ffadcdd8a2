"""The drills' request loop, run on the front host: GET a page through nginx until a stop file
appears, a new connection per request (as browsers from many places would), and count what failed.

    python3 request_loop.py URL STOP_FILE RESULT_FILE [MAX_SECONDS]

A request fails when it gets no answer within 90 s or a status other than 200; the result
(JSON) gives the counts and the first failures with their time. Standard library only: the
front host has Python for Ansible and nothing else.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import sys
import time
from urllib.parse import urlsplit

url, stop, result = sys.argv[1:4]
max_seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 900
parts = urlsplit(url)
# The front's self-signed certificate is the role's test pair: the drill measures failover,
# and verify.yml checks the certificate.
context = ssl._create_unverified_context()  # noqa: S323
counts = {"requests": 0, "failed": 0, "statuses": {}, "failures": [], "slowest_s": 0.0}
started = time.time()
while not os.path.exists(stop) and time.time() - started < max_seconds:
    sent = time.time()
    try:
        # Longer than the front's proxy_read_timeout (60 s) plus its connect timeout: a request
        # in flight to a host that is lost waits for the front's read timeout, and then nginx
        # sends it (a GET) to the other host. With 30 s the client gave up first (seen once).
        conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=90, context=context)
        conn.request("GET", parts.path or "/", headers={"Host": parts.hostname})
        response = conn.getresponse()
        response.read()
        conn.close()
        outcome = str(response.status)
    except (OSError, http.client.HTTPException) as exc:
        outcome = type(exc).__name__
    took = time.time() - sent
    counts["requests"] += 1
    counts["statuses"][outcome] = counts["statuses"].get(outcome, 0) + 1
    counts["slowest_s"] = round(max(counts["slowest_s"], took), 2)
    if outcome != "200":
        counts["failed"] += 1
        if len(counts["failures"]) < 20:
            counts["failures"].append({"at": round(sent, 1), "outcome": outcome, "took_s": round(took, 2)})
    time.sleep(0.05)
counts["seconds"] = round(time.time() - started, 1)
with open(result, "w") as out:
    json.dump(counts, out)

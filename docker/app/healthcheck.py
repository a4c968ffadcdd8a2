#!/usr/bin/env python3
"""Container healthcheck: GET a URL on this container and expect a status.

    clinic-healthcheck URL [--status 200] [--basic-auth-env FLOWER_BASIC_AUTH]

The credentials come from an environment variable, never from the command
line (which `docker inspect` shows to anyone who can reach the engine).
"""

import argparse
import base64
import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--basic-auth-env", help="variable holding user:password")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    if not args.url.startswith(("http://", "https://")):
        parser.error(f"{args.url}: only http:// and https:// URLs")
    request = urllib.request.Request(args.url)  # noqa: S310 - scheme checked above
    if args.basic_auth_env:
        credentials = os.environ.get(args.basic_auth_env, "")
        if ":" not in credentials:
            print(f"{args.basic_auth_env} is not user:password", file=sys.stderr)
            return 1
        request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:  # noqa: S310 - scheme checked
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        print(f"{args.url}: {exc}", file=sys.stderr)
        return 1
    if status != args.status:
        print(f"{args.url}: HTTP {status}, expected {args.status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Render docker/compose.yml (Redis) and docker/compose.db-broker.yml (database broker).

One template (docker/compose.yml.j2), the queue list of app/config/queues.json,
the per-queue worker settings and the Redis ACL rules of the roles (read by
scripts/role_settings.py, as make run reads them): the compose stack and the
Ansible deploy cannot drift apart.

    python scripts/compose.py            write both files
    python scripts/compose.py --check    exit 1 if a committed file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jinja2
from role_settings import (
    SUPERVISOR_TEMPLATES,
    project_programs,
    queue_settings,
    redis_celery_permissions,
    redis_default_user_rules,
)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "docker" / "compose.yml.j2"
VARIANTS = {"redis": "compose.yml", "database": "compose.db-broker.yml"}


def render() -> dict[Path, str]:
    env = jinja2.Environment(  # noqa: S701 - renders YAML, not HTML
        loader=jinja2.FileSystemLoader([TEMPLATE.parent, SUPERVISOR_TEMPLATES]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["from_json"] = json.loads
    template = env.get_template(TEMPLATE.name)
    queues, grace = queue_settings()
    return {
        TEMPLATE.parent / filename: template.render(
            broker=broker,
            filename=filename,
            queues=queues,
            stop_grace_seconds=grace,
            redis_celery_permissions=redis_celery_permissions(),
            redis_default_user_rules=redis_default_user_rules(),
            **project_programs(),
        )
        for broker, filename in VARIANTS.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed file differs from the rendering")
    args = parser.parse_args()
    stale = []
    for path, text in render().items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.relative_to(ROOT))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"stale: {', '.join(map(str, stale))}; run `make compose-files` and commit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

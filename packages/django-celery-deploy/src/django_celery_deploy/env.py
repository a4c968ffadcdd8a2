#!/usr/bin/env python3
"""The one environment-file format every process of the app reads.

Web, workers, beat, Flower and manage.py all import the settings, and the
settings call :func:`load_env_file` first. The Ansible roles, docker/ and
Vagrant write the same format, so a process can never see a broker or a
secret that its neighbours do not.

Format (deliberately smaller than a shell file, so that no quoting rule can
differ between the writers and this reader):

* one ``KEY=value`` per line; the value is everything after the first ``=``,
  taken literally (no quotes, no escapes, no ``$VAR`` expansion);
* blank lines and lines whose first non-blank character is ``#`` are ignored;
* keys are ``[A-Z_][A-Z0-9_]*``.

Variables already in the process environment win over the file, so an
operator can override one value for one command without editing the file.

Run as a script (standard library only, so the system Python runs it), it is also how
deployed programs get their settings whatever the project does with APP_ENV_FILE: the
supervisor role installs this file as /usr/local/bin/django-celery-envfile, and each
program starts as ``django-celery-envfile exec FILE -- COMMAND...``, which puts the
file's variables in the environment and replaces itself with COMMAND.
``django-celery-envfile check FILE`` exits non-zero, naming file and line, on a file
this reader would refuse (the deploy validates the candidate env file with it).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

KEY_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class EnvFileError(ValueError):
    """The env file is malformed; the message names the file and line."""


class EnvError(ValueError):
    """A variable has a value the app cannot use; the message names it."""


def parse_env_file(path: str | os.PathLike) -> dict[str, str]:
    values: dict[str, str] = {}
    text = Path(path).read_text(encoding="utf-8")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = raw.partition("=")
        key = key.strip()
        if not sep:
            raise EnvFileError(f"{path}:{lineno}: expected KEY=value, got {raw!r}")
        if not KEY_RE.match(key):
            raise EnvFileError(
                f"{path}:{lineno}: invalid variable name {key!r} (use upper-case letters, digits and underscores)"
            )
        if key in values:
            raise EnvFileError(f"{path}:{lineno}: {key} is set twice")
        values[key] = value
    return values


def write_env_file(path: str | os.PathLike, values: dict[str, object], header: str = "") -> None:
    """Write ``values`` in the format :func:`parse_env_file` reads (mode 0600)."""
    lines = [f"# {line}\n" for line in header.splitlines()]
    for key, value in values.items():
        text = str(value)
        if not KEY_RE.match(key):
            raise EnvFileError(f"invalid variable name {key!r}")
        if "\n" in text or "\r" in text:
            raise EnvFileError(f"{key}: a value cannot span lines")
        lines.append(f"{key}={text}\n")
    target = Path(path)
    target.write_text("".join(lines), encoding="utf-8")
    target.chmod(0o600)


def load_env_file(path: str | os.PathLike | None = None) -> dict[str, str]:
    """Load ``path`` (default: ``$APP_ENV_FILE``) into ``os.environ``."""
    path = path or os.environ.get("APP_ENV_FILE")
    if not path:
        return {}
    if not Path(path).is_file():
        raise EnvFileError(f"APP_ENV_FILE={path} does not exist or is not a file")
    values = parse_env_file(path)
    for key, value in values.items():
        os.environ.setdefault(key, value)
    return values


def get_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value


def get_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise EnvError(f"{name}={value!r} is not a boolean (use true/false, 1/0, yes/no)")


def get_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise EnvError(f"{name}={number} must be at least {minimum}")
    return number


def get_float(name: str, default: float | None, *, minimum: float | None = None) -> float | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise EnvError(f"{name}={value!r} is not a number") from None
    if minimum is not None and number < minimum:
        raise EnvError(f"{name}={number} must be at least {minimum}")
    return number


def get_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def main(argv: list[str] | None = None) -> int:
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: django-celery-envfile check FILE | exec FILE -- COMMAND [ARG...]"
    if len(args) == 2 and args[0] == "check":
        try:
            parse_env_file(args[1])
        except (OSError, UnicodeDecodeError, EnvFileError) as exc:
            print(f"django-celery-envfile: {exc}", file=sys.stderr)
            return 1
        return 0
    if len(args) >= 4 and args[0] == "exec" and args[2] == "--":
        try:
            load_env_file(args[1])
        except (OSError, UnicodeDecodeError, EnvFileError) as exc:
            print(f"django-celery-envfile: {exc}", file=sys.stderr)
            return 1
        os.environ["APP_ENV_FILE"] = args[1]
        try:
            os.execvp(args[3], args[3:])  # noqa: S606 - exec the program itself, no shell
        except OSError as exc:
            print(f"django-celery-envfile: cannot run {args[3]}: {exc}", file=sys.stderr)
            return 127
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

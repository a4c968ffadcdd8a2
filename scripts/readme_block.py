"""The README's generated blocks: lines between `<!-- NAME:start ... -->` and `<!-- NAME:end -->`,
rewritten by the script that owns them (deploy_times.py, drill_figures.py, bench.py)."""

from __future__ import annotations

from pathlib import Path


def replace_block(readme: Path, name: str, source: str, lines: list[str], writer: str = "make molecule") -> None:
    """Put `lines` between the README's markers for `name` (nothing happens without them)."""
    start, end = f"<!-- {name}:start", f"<!-- {name}:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    block = [f"{start} (written by {writer} from {source}) -->", *lines, end]
    readme.write_text(head + "\n".join(block) + tail)

"""Memory and CPU of a process tree, read from /proc (Linux; no psutil needed)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Set

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> List[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces.
    return text[text.rindex(")") + 2 :].split()


def _parents() -> Dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                parents[int(entry.name)] = int(fields[1])
    return parents


def process_tree(roots: Iterable[int]) -> List[int]:
    """The given processes and all their live descendants (e.g. Sanic workers)."""
    parents = _parents()
    children: Dict[int, List[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    seen: Set[int] = set()
    stack = [pid for pid in roots if pid in parents]
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack.extend(children.get(pid, []))
    return sorted(seen)


def _status_kb(pid: int, field: str, path: str = "status") -> int:
    try:
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    if not fields:
        return 0.0
    # utime and stime: fields 14 and 15 of /proc/PID/stat, i.e. 11 and 12 after the name.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class TreeUsage:
    pids: List[int]
    rss_bytes: int
    pss_bytes: int
    cpu_seconds: float


def usage(roots: Iterable[int]) -> TreeUsage:
    """Summed resident memory (RSS; PSS counts pages shared between processes once) and CPU."""
    pids = process_tree(roots)
    return TreeUsage(
        pids=pids,
        rss_bytes=sum(_status_kb(pid, "VmRSS") for pid in pids) * 1024,
        pss_bytes=sum(_status_kb(pid, "Pss", "smaps_rollup") for pid in pids) * 1024,
        cpu_seconds=sum(cpu_seconds(pid) for pid in pids),
    )


def names(pids: Iterable[int]) -> List[str]:
    """Short command names of the processes (for the JSON: what was counted)."""
    found = []
    for pid in pids:
        try:
            found.append(Path(f"/proc/{pid}/comm").read_text().strip())
        except OSError:
            found.append("?")
    return found


def command_line(pid: int) -> str:
    """The process's command line, arguments separated by spaces ("" if it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""

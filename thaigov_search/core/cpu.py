"""How many cores this process may really use: its CPU affinity, capped by a cgroup CPU quota.

On a shared machine (a container limited to 1.5 CPUs, a systemd unit with ``CPUQuota=``, or a
``taskset``) ``os.cpu_count()`` overstates what we get. Thread pools sized from it oversubscribe:
operator threads wait at every barrier for a descheduled sibling (on our busy 2-core machine two
ONNX intra-op threads ran at half the speed of one, docs/performance.md). Every backend sizes its
threads from :func:`available_cores` instead, so it degrades in proportion to the share left.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1 = (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def affinity_cores() -> int:
    """Cores the scheduler lets this process run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def quota_cores(v2: Path = CGROUP_V2, v1: tuple[Path, Path] = CGROUP_V1) -> float | None:
    """CPUs the cgroup quota allows (``cpu.max`` "150000 100000" -> 1.5); None when unlimited."""
    try:
        quota, period = v2.read_text().split()[:2]
        if quota == "max":
            return None
        return int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us, period_us = int(v1[0].read_text()), int(v1[1].read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def available_cores() -> int:
    """Whole cores to size thread pools by: the affinity, capped by the quota (rounded up, at least 1)."""
    cores = affinity_cores()
    quota = quota_cores()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota - 1e-9)))
    return cores

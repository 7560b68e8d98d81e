"""What the harness reads from /proc: CPU time and RSS of processes, and which processes to count.

CPU time is utime + stime from /proc/<pid>/stat, in clock ticks (CLK_TCK, usually 100 per
second, so 10 ms resolution: a window of a few seconds is needed for a meaningful figure).
"""

import os
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Stat:
    pid: int
    comm: str
    state: str  # R, S, D, Z (zombie: exited, not yet reaped), ...
    ppid: int
    session: int
    ticks: int  # utime + stime
    starttime: int  # clock ticks after boot: tells a reused pid from the original
    rss_bytes: int


def read_stat(pid):
    """The Stat of `pid`, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm is in parentheses and may itself contain spaces or parentheses
    left, right = raw.index("("), raw.rindex(")")
    comm = raw[left + 1 : right]
    rest = raw[right + 2 :].split()  # rest[0] is field 3 (state): field n is rest[n - 3]
    return Stat(
        pid=pid,
        comm=comm,
        state=rest[0],
        ppid=int(rest[1]),
        session=int(rest[3]),
        ticks=int(rest[11]) + int(rest[12]),
        starttime=int(rest[19]),
        rss_bytes=int(rest[21]) * PAGE_SIZE,
    )


def all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def all_stats():
    return [s for s in map(read_stat, all_pids()) if s is not None]


def alive(pid):
    stat = read_stat(pid)
    return stat is not None and stat.state != "Z"


def session_pids(leader):
    """Every live process in the session `leader` started (start_new_session=True): it and all it forks."""
    return sorted(s.pid for s in all_stats() if s.session == leader and s.state != "Z")


def pids_by_comm(*names):
    """Processes whose command name (/proc/<pid>/comm, 15 characters at most) is one of `names`."""
    return sorted(s.pid for s in all_stats() if s.comm in names)


def _listening_inodes(port):
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state, inode = fields[1], fields[3], fields[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                        inodes.add(inode)
        except FileNotFoundError:
            continue
    return inodes


def listening_pids(port):
    """The processes holding a socket listening on `port` on this machine: for a gateway the
    harness did not start (gunicorn's master and workers all hold it; uvicorn one process)."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    found = []
    if not wanted:
        return found
    for pid in all_pids():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                    found.append(pid)
                    break
            except OSError:
                continue
    return sorted(found)


def cpu_snapshot(pids):
    """{pid: (starttime, ticks)} for those of `pids` still alive."""
    snapshot = {}
    for pid in pids:
        stat = read_stat(pid)
        if stat is not None:
            snapshot[pid] = (stat.starttime, stat.ticks)
    return snapshot


def cpu_seconds_between(before, after):
    """CPU seconds the processes used between two snapshots. A process only in `after` started
    in between, so all of its time counts; one only in `before` exited, and its last ticks are lost."""
    ticks = 0
    for pid, (start, now) in after.items():
        then = before.get(pid)
        ticks += now - then[1] if then is not None and then[0] == start else now
    return ticks / CLK_TCK


def rss_bytes(pids):
    return sum(s.rss_bytes for s in map(read_stat, pids) if s is not None)


def machine_ticks():
    """(busy, interrupts, total) clock ticks of all CPUs since boot, from /proc/stat. `interrupts`
    (irq + softirq, e.g. loopback TCP) is part of `busy` but charged to no process."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    values += [0] * (8 - len(values))
    user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
    busy = user + nice + system + irq + softirq  # steal: the hypervisor's, not ours
    return busy, irq + softirq, busy + idle + iowait + steal  # guest time is already counted in user


def environ_has(pid, marker):
    """Whether `marker` (b"NAME=value") is one of the process's environment entries."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return marker in f.read().split(b"\0")
    except OSError:
        return False

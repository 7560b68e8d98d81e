"""bench/detection_cost.py on the real broker: each variant idles in a process of its own and
reports its CPU; the watch costs more than no watch, and both stay small."""

import re

from bench.detection_cost import main
from tests.support.servers import AMQP_BASE


def test_each_variant_reports_its_idle_cpu(capsys):
    main(["--seconds", "3", "--broker", AMQP_BASE])
    lines = capsys.readouterr().out.strip().splitlines()
    figures = {}
    for line in lines:
        if " us of CPU per second" not in line:
            continue
        name, _, rest = line.rpartition(": ")
        figures[name] = int(re.match(r"([\d,]+) us of CPU per second", rest).group(1).replace(",", ""))
    assert len(figures) == 2, lines
    assert set(figures) == {"shipped: heartbeat 2 s, a watch per node", "before: heartbeat 10 s, no watch"}
    assert all(0 < us < 100_000 for us in figures.values())  # under a tenth of a core, idle

"""The report as a PNG (matplotlib, Agg backend: no display needed).

One column per scenario: requests/s per target (p50/p99 written on the bars) above, CPU per
request split by process group below; a last column with the gateways' RSS when the memory
scenario ran.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

GROUP_COLOURS = {"gateway": "#4c72b0", "workers": "#55a868", "rabbitmq": "#c44e52", "redis": "#8172b2"}
GROUP_LABELS = {"gateway": "gateway", "workers": "workers", "rabbitmq": "RabbitMQ", "redis": "Redis"}


def draw(report, path):
    """The load runs' medians over the rounds (with one round, the runs), and the memory runs."""
    load_runs = report.get("medians")  # reports written before rounds had none
    if load_runs is None:
        load_runs = [r for r in report["runs"] if not r.get("memory")]
    memory_runs = [r for r in report["runs"] if r.get("memory")]
    runs = load_runs + memory_runs
    scenarios = list(dict.fromkeys(r["scenario"] for r in load_runs))
    columns = len(scenarios) + (1 if memory_runs else 0)
    columns = max(columns, 1)
    fig, axes = plt.subplots(2, columns, figsize=(max(7.0, 4.2 * columns + 1), 8), squeeze=False)
    for col, scenario in enumerate(scenarios):
        rows = [r for r in load_runs if r["scenario"] == scenario]
        _throughput(axes[0][col], scenario, rows)
        _cpu(axes[1][col], rows, legend=(col == 0))
    if memory_runs:
        _memory(axes[0][columns - 1], memory_runs)
        _cpu(axes[1][columns - 1], memory_runs, legend=not scenarios)
        axes[1][columns - 1].set_title("memory run: CPU per request")
    if not runs:
        axes[0][0].text(0.5, 0.5, "no runs", ha="center", va="center")
    meta = report["meta"]
    rounds = f", median of {meta['rounds']} rounds" if meta.get("rounds", 1) > 1 else ""
    title = (
        f"nameko-travel gateways\n{meta['connections']} connections, {meta['duration_s']:g}s runs{rounds}, "
        f"{meta['generator']['name']}, {meta['cpus']} CPUs, {meta['started_at']}"
    )
    return _save(fig, path, title, fontsize=11, top=0.94)


def _save(fig, path, title, fontsize, top):
    """Title the figure, lay it out below the title (`top`: the share of the height left to the
    plots), write the PNG and free the figure."""
    fig.suptitle(title, fontsize=fontsize)
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _throughput(ax, scenario, rows):
    names = [r["target"] for r in rows]
    values = [r["rps"] for r in rows]
    bars = ax.bar(names, values, color="#4c72b0")
    top = max(values, default=0) or 1
    for bar, r in zip(bars, rows, strict=True):
        lat = r["latency_ms"]
        label = f"p50 {_ms(lat['p50'])}\np99 {_ms(lat['p99'])}"
        if r["errors"]["total"]:
            label += f"\n{r['errors']['total']} err"
        if r["loadgen"]["saturated"]:
            label += "\nLG-bound"
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            bar.get_height() + top * 0.02,
            label,
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylim(0, top * 1.35)
    ax.set_title(f"{scenario}: requests/s")
    ax.set_ylabel("requests/s")


def _cpu(ax, rows, legend):
    names = [r["target"] for r in rows]
    bottom = [0.0] * len(rows)
    for group, colour in GROUP_COLOURS.items():
        values = [r["cpu_us_per_request"][group] or 0.0 for r in rows]
        ax.bar(names, values, bottom=bottom, color=colour, label=GROUP_LABELS[group])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title("CPU per request")
    ax.set_ylabel("CPU µs / request")
    if legend:
        ax.legend(fontsize=8)


def _memory(ax, rows):
    first, total = rows[0]["memory"]["checkpoints"]
    keys = ["after_warmup", f"after_{first}", f"after_{total}"]
    labels = ["warm", f"@{first}", f"@{total}"]
    width = 0.8 / len(keys)
    for k, (key, label) in enumerate(zip(keys, labels, strict=True)):
        xs = [i + (k - (len(keys) - 1) / 2) * width for i in range(len(rows))]
        values = [(r["memory"]["rss_kib"][key] or 0) / 1024 for r in rows]
        ax.bar(xs, values, width=width, label=label)
    ax.set_xticks(range(len(rows)), [r["target"] for r in rows])
    ax.set_title("gateway RSS (MiB)")
    ax.set_ylabel("MiB")
    ax.legend(fontsize=8)


def _ms(value):
    return "-" if value is None else f"{value:.1f}ms"


LINES = (("p50", "--"), ("p99", "-"), ("p999", ":"))  # latency percentile, line style


def draw_open_loop(report, path):
    """Latency against throughput, one panel per scenario: each target's open-loop runs (medians
    over the rounds), p50 dashed, p99 solid, p99.9 dotted, latency on a log scale."""
    entries = report["open_loop"]["medians"]
    scenarios = list(dict.fromkeys(e["scenario"] for e in entries))
    fig, axes = plt.subplots(1, max(len(scenarios), 1), figsize=(max(7.0, 5.5 * len(scenarios)), 5), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, scenario in zip(axes[0], scenarios, strict=False):
        targets = list(dict.fromkeys(e["target"] for e in entries if e["scenario"] == scenario))
        for n, target in enumerate(targets):
            points = sorted(
                (e for e in entries if e["scenario"] == scenario and e["target"] == target),
                key=lambda e: e["rps"],
            )
            xs = [e["rps"] for e in points]
            for key, style in LINES:
                ys = [e["latency_ms"].get(key) for e in points]
                label = f"{target} {'p99.9' if key == 'p999' else key}"
                ax.plot(xs, ys, style, marker="o", markersize=3, color=colours[n % len(colours)], label=label)
        ax.set_yscale("log")
        ax.set_title(f"{scenario}: latency at a constant rate")
        ax.set_xlabel("requests/s reached")
        ax.set_ylabel("latency from the intended send, ms")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    if not scenarios:
        axes[0][0].text(0.5, 0.5, "no open-loop runs", ha="center", va="center")
    meta = report["meta"]
    shares = ", ".join(f"{s:g}" for s in meta["open_loop"]["shares_pct"])
    loads = [f"{shares} % of each one's closed-loop requests/s"] if shares else []
    loads += [f"{r:g}/s" for r in meta["open_loop"].get("rates", ())]
    title = (
        f"nameko-travel gateways, open loop at {', '.join(loads)}\n"
        f"{meta['connections']} connections, {meta['open_loop']['duration_s']:g}s per rate, {meta['cpus']} CPUs, "
        f"{meta['started_at']}"
    )
    return _save(fig, path, title, fontsize=10, top=0.9)

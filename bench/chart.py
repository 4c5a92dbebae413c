"""Draw bench/results.json as a bar chart of req/s per case (run inside bench/.peers)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

cases = json.load(open(sys.argv[1]))
labels = [f"{c['server']}\n{c['scenario']} {c['jobs'] or ''}".strip() for c in cases]
values = [c["rps"] for c in cases]
fig, ax = plt.subplots(figsize=(max(8, len(cases) * 0.9), 5))
bars = ax.bar(range(len(cases)), values,
              color=["#888" if c["server"] in ("bare", "floor", "moto") else "#2a7" for c in cases])
ax.set_xticks(range(len(cases)), labels, rotation=60, ha="right", fontsize=7)
ax.set_ylabel("requests per second (wrk -t1 -c16)")
ax.set_title("cancelgate vs bare Starlette, the Connexion floor and moto_server")
for bar, value in zip(bars, values, strict=True):
    ax.annotate(f"{value:.0f}", (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom", fontsize=7)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)

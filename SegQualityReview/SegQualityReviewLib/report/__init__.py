"""report.html of a comparison: one self-contained page, rendered by jinja2 (autoescape on) from results.json.

Public API::

    write_report(ReportInputs(table=, results=, cases=, config=, title=, description=), path)
    template_environment() -> jinja2.Environment     # also renders the demo's index.html

Modules: ``report`` (the page context and writing), ``summary`` (the top: leaderboard, one sentence per
structure, heatmap), ``sections`` (per structure: tables in rank order, significance matrix, figures),
``gallery`` and ``thumbnails`` (the failure gallery and its three-plane views), ``plots`` (matplotlib
figures as inline palette PNGs, every label literal text), ``formatting`` (numbers, intervals, levels,
methods), ``templates/``.
Imports only numpy, pandas, matplotlib, jinja2 and ``io``: never torch, so ``segquality analyze`` stays light.
"""

from __future__ import annotations

from .report import ReportInputs, template_environment, write_report

__all__ = ["ReportInputs", "template_environment", "write_report"]

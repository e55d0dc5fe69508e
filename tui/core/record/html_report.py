"""One self-contained HTML page for a call record: timeline, transcript, tables, audio.

The page has no external reference: styles and a few lines of script are inline, the timeline
is an inline SVG, and each agent's WAV is embedded as a ``data:audio/wav;base64`` URI, so the one
file works when opened anywhere. Every text from the room (names, transcript, findings) is
escaped. Clicking a transcript line plays that agent's audio from there.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Final

from tui.core.record.run_dir import Run

WIDTH: Final = 960
LABEL_W: Final = 120
LANE_H: Final = 40
AXIS_H: Final = 26
COLOURS: Final = ("#2f6fdf", "#e07b00", "#1a9b55", "#a23fc4", "#c9304a", "#2a9fb0")
STATE_COLOURS: Final = {"thinking": "#f2c94c", "speaking": "#6fcf97", "listening": "#d9dee7"}
STATUS_COLOURS: Final = {
    "ok": "#1a9b55",
    "pending": "#8a8f98",
    "warn": "#d08a00",
    "fail": "#c9304a",
}

STYLE: Final = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#1d232b}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px}
.meta{color:#59606b}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e4e7ec;vertical-align:top}
th{background:#f4f6f9;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.line{cursor:pointer}tr.line:hover{background:#eef3fd}
.status{font-weight:600;text-transform:uppercase;font-size:12px}
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:12px;
height:12px;vertical-align:-1px;margin-right:4px;border-radius:2px}
audio{width:100%}.player{margin:6px 0 12px}
"""
SCRIPT: Final = """
document.querySelectorAll('tr.line').forEach(function (row) {
  row.addEventListener('click', function () {
    var player = document.getElementById('audio-' + row.dataset.agent);
    if (!player) { return; }
    player.currentTime = Math.max(0, parseFloat(row.dataset.offset));
    player.play();
  });
});
"""


def render(run: Run) -> str:
    """The whole page for ``run``."""
    report = run.report
    agents: Mapping[str, Any] = report["agents"]
    colours = {identity: COLOURS[i % len(COLOURS)] for i, identity in enumerate(agents)}
    names = {identity: str(info.get("name") or identity) for identity, info in agents.items()}
    title = f"Call {report['room']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{_meta(report)}</p>',
        "<h2>Timeline</h2>",
        timeline_svg(report, colours, names),
        _legend(colours, names),
        "<h2>Audio</h2>",
        _players(run, names),
        "<h2>Agents</h2>",
        _agents_table(agents),
        "<h2>Turn-taking</h2>",
        _turn_table(report["turn_taking"], names),
        "<h2>Transcript</h2>",
        _transcript(report, names),
        "<h2>Findings</h2>",
        _findings(report["findings"]),
        f"<script>{SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _meta(report: Mapping[str, Any]) -> str:
    items = [
        ("scenario", report.get("scenario") or "-"),
        ("started", report.get("started_at") or "-"),
        ("duration", _secs(report.get("duration_s"))),
        ("ended", report.get("ended_reason") or "-"),
    ]
    return " · ".join(f"{escape(k)} <b>{escape(str(v))}</b>" for k, v in items)


def _secs(value: Any, digits: int = 1) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value:.{digits}f} s"


def _ms(value: Any) -> str:
    return f"{value * 1000:.0f} ms" if isinstance(value, int | float) else "-"


def _tick_step(duration: float) -> float:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if duration / step <= 12:
            return step
    return float(10 ** math.ceil(math.log10(duration / 10)))


def timeline_svg(
    report: Mapping[str, Any], colours: Mapping[str, str], names: Mapping[str, str]
) -> str:
    """The SVG timeline: one lane per agent with its speaking intervals over its states,
    transcript marks, and overlaps, dead air and deadlocks across all lanes."""
    timeline: Mapping[str, Any] = report["timeline"]
    lanes = list(colours)
    duration = max(float(report.get("duration_s") or 0.0), 1.0)
    plot_w = WIDTH - LABEL_W - 10
    height = AXIS_H + LANE_H * max(len(lanes), 1) + 6

    def x(t: float) -> float:
        return LABEL_W + max(0.0, min(t, duration)) / duration * plot_w

    def span(
        start: float, end: float, y: float, h: float, fill: str, title: str, extra: str = ""
    ) -> str:
        w = max(x(end) - x(start), 1.0)
        return (
            f'<rect x="{x(start):.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" '
            f'fill="{fill}"{extra}><title>{escape(title)}</title></rect>'
        )

    out = [
        f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="call timeline" font-family="system-ui,sans-serif" font-size="11">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    lanes_top, lanes_h = AXIS_H, LANE_H * len(lanes)
    window = report.get("call_window_s")
    if isinstance(window, list) and len(window) == 2:
        out.append(span(window[0], window[1], lanes_top, lanes_h, "#f6f8fb", "call on"))
    for kind, fill, label in (
        ("dead_air", "#cfd4dc", "dead air"),
        ("deadlocks", "#f2994a", "deadlock: everyone listening"),
        ("overlaps", "#eb5757", "overlap: two speakers at once"),
    ):
        for start, end in timeline.get(kind, []):
            out.append(
                span(
                    start,
                    end,
                    lanes_top,
                    lanes_h,
                    fill,
                    f"{label} {start:.1f}-{end:.1f} s",
                    ' opacity="0.55"',
                )
            )
    step = _tick_step(duration)
    ticks = [i * step for i in range(int(duration / step) + 1)]
    for t in ticks:
        out.append(
            f'<line x1="{x(t):.1f}" y1="{AXIS_H - 6}" x2="{x(t):.1f}" y2="{height - 4}" '
            'stroke="#e4e7ec"/>'
            f'<text x="{x(t):.1f}" y="{AXIS_H - 10}" text-anchor="middle" fill="#59606b">'
            f"{t:g} s</text>"
        )
    transcript = report.get("transcript", [])
    for index, identity in enumerate(lanes):
        y = lanes_top + index * LANE_H
        out.append(
            f'<text x="8" y="{y + LANE_H / 2 + 4:.1f}" fill="{colours[identity]}" '
            f'font-weight="600">{escape(names[identity][:16])}</text>'
        )
        states = timeline.get("states", {}).get(identity, [])
        left = report["agents"].get(identity, {}).get("left_s")
        last = float(left) if isinstance(left, int | float) else duration
        for (at, state), nxt in zip(states, [*states[1:], [last, ""]], strict=True):
            out.append(
                span(
                    at,
                    nxt[0],
                    y + LANE_H - 9,
                    5,
                    STATE_COLOURS.get(state, "#eceff3"),
                    f"{names[identity]}: {state}",
                )
            )
        for start, end in timeline.get("speech", {}).get(identity, []):
            out.append(
                span(
                    start,
                    end,
                    y + 7,
                    LANE_H - 19,
                    colours[identity],
                    f"{names[identity]} speaking {start:.2f}-{end:.2f} s",
                    ' class="speech" rx="3"',
                )
            )
        for line in transcript:
            if line.get("identity") == identity:
                mark = x(float(line.get("start_s", 0.0)))
                out.append(
                    f'<path d="M{mark:.1f} {y + 2} l4 4 l-4 4 z" fill="#1d232b">'
                    f"<title>{escape(str(line.get('text', '')))}</title></path>"
                )
    out.append("</svg>")
    return "".join(out)


def _legend(colours: Mapping[str, str], names: Mapping[str, str]) -> str:
    items = [(colour, f"{names[identity]} speaking") for identity, colour in colours.items()]
    items += [
        ("#eb5757", "overlap"),
        ("#cfd4dc", "dead air"),
        ("#f2994a", "deadlock"),
        (STATE_COLOURS["thinking"], "thinking"),
        (STATE_COLOURS["speaking"], "speaking (agent state)"),
        (STATE_COLOURS["listening"], "listening"),
    ]
    spans = "".join(
        f'<span><i class="sw" style="background:{colour}"></i>{escape(label)}</span>'
        for colour, label in items
    )
    return f'<p class="legend">{spans} ▸ transcript line</p>'


def _players(run: Run, names: Mapping[str, str]) -> str:
    files = run.report["recording"].get("audio", {})
    if not run.audio:
        return "<p>No audio was recorded.</p>"
    blocks = []
    for identity, data in run.audio.items():
        info = files.get(identity, {})
        uri = "data:audio/wav;base64," + base64.b64encode(data).decode("ascii")
        blocks.append(
            f'<div class="player"><b>{escape(names.get(identity, identity))}</b> '
            f'<span class="meta">({escape(identity)}, starts at '
            f"{_secs(info.get('start_s'), 2)} of the timeline, {_secs(info.get('seconds'))})"
            f'</span><br><audio controls preload="metadata" id="audio-{escape(_dom_id(identity))}" '
            f'src="{uri}"></audio></div>'
        )
    return "".join(blocks)


def _dom_id(identity: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in identity)


def _table(
    head: Sequence[str], rows: Sequence[Sequence[str]], numeric: frozenset[int] = frozenset()
) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _agents_table(agents: Mapping[str, Any]) -> str:
    rows = []
    for identity, info in agents.items():
        latency = info.get("latency", {})
        pipeline = info.get("pipeline", {})
        rows.append(
            [
                escape(str(info.get("name") or "")),
                escape(identity),
                escape(str(info.get("role") or "")),
                str(info.get("turns", "-")),
                _secs(info.get("speaking_s")),
                f"{_ms(latency.get('p50'))} / {_ms(latency.get('p95'))}",
                f"{_ms(pipeline.get('llm_ttft_s', {}).get('p50'))} / "
                f"{_ms(pipeline.get('tts_ttfb_s', {}).get('p50'))}",
            ]
        )
    return _table(
        [
            "name",
            "identity",
            "role",
            "turns",
            "speaking",
            "response p50 / p95",
            "LLM ttft / TTS ttfb p50",
        ],
        rows,
        frozenset({3, 4, 5, 6}),
    )


def _turn_table(turns: Mapping[str, Any], names: Mapping[str, str]) -> str:
    gap = turns.get("response_gap_s", {})
    longest_by = turns.get("longest_turn_by")
    deadlocks = turns.get("deadlocks")
    rows = [
        [
            "response gap p50 / p95 / max",
            f"{_ms(gap.get('p50'))} / {_ms(gap.get('p95'))} / {_ms(gap.get('max'))}",
        ],
        ["overlaps", f"{turns.get('overlaps', 0)} ({_secs(turns.get('overlap_s'), 2)})"],
        ["dead air", _secs(turns.get("dead_air_s"))],
        [
            "longest turn",
            f"{_secs(turns.get('longest_turn_s'))}"
            + (f" ({escape(names.get(longest_by, longest_by))})" if longest_by else ""),
        ],
        [
            "deadlocks",
            "unknown (no agent states)"
            if deadlocks is None
            else f"{deadlocks} ({_secs(turns.get('deadlock_s'))})",
        ],
    ]
    return _table(["figure", "value"], rows, frozenset({1}))


def _transcript(report: Mapping[str, Any], names: Mapping[str, str]) -> str:
    audio = report["recording"].get("audio", {})
    rows = []
    for line in report["transcript"]:
        identity = str(line.get("identity", ""))
        start = float(line.get("start_s", 0.0))
        offset = start - float(audio.get(identity, {}).get("start_s", 0.0))
        rows.append(
            f'<tr class="line" data-agent="{escape(_dom_id(identity))}" '
            f'data-offset="{max(offset - 0.3, 0.0):.2f}">'
            f'<td class="num">{start:.1f} s</td><td class="num">'
            f"{float(line.get('end_s', start)):.1f} s</td>"
            f"<td>{escape(names.get(identity, identity))}</td>"
            f"<td>{escape(str(line.get('text', '')))}"
            f"{'' if line.get('final', True) else ' <i>(cut short)</i>'}</td></tr>"
        )
    if not rows:
        return "<p>No transcript was received.</p>"
    return (
        "<table><thead><tr><th>start</th><th>end</th><th>speaker</th><th>text</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _findings(findings: Sequence[Mapping[str, Any]]) -> str:
    if not findings:
        return "<p>No findings.</p>"
    rows = []
    for finding in findings:
        status = str(finding.get("status", ""))
        colour = STATUS_COLOURS.get(status, "#59606b")
        rows.append(
            [
                f'<span class="status" style="color:{colour}">{escape(status)}</span>',
                escape(str(finding.get("title") or finding.get("id", ""))),
                escape(str(finding.get("finding", ""))),
                escape(str(finding.get("fix", ""))),
            ]
        )
    return _table(["status", "check", "finding", "fix"], rows)

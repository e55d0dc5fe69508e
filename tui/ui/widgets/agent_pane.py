"""One pane per agent: who it is, whether it is here, what it is doing and saying."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from tui.core.agent_view import AgentView, TranscriptLine
from tui.core.audio_level import SILENCE_DBFS

METER_WIDTH = 20
METER_FLOOR_DBFS = -60.0
TRANSCRIPT_LINES_SHOWN = 60
_STATUS_PARTS = ("info", "level", "audio")
"""The status block's widgets (ids ``<pane id>-<part>``), one per part of ``status_parts``."""


def level_meter(level_dbfs: float | None) -> str:
    """A fixed-width bar for a dBFS level (-60 dBFS empty, 0 dBFS full)."""
    if level_dbfs is None:
        return "·" * METER_WIDTH
    fraction = (max(METER_FLOOR_DBFS, min(0.0, level_dbfs)) - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS
    filled = round(fraction * METER_WIDTH)
    return "█" * filled + "░" * (METER_WIDTH - filled)


def _flag(value: bool, yes: str, no: str) -> Text:
    return Text(yes, style="bold green") if value else Text(no, style="bold red")


def status_parts(
    view: AgentView, now: float, latency: str = "", speaking: bool | None = None
) -> tuple[Text, Text, Text]:
    """The status block in three parts: who and what state, the level meter, the audio track.
    Text from the room is appended as plain text, never markup. ``speaking`` is whether the
    agent is heard speaking in its audio (None: the server's active speakers say).

    Kept apart because the level changes several times a second while the agent talks and the
    rest a few times a call: a redraw repaints its whole widget, so the meter gets its own line.
    """
    heard = view.speaking if speaking is None else speaking
    return (
        _identity_and_state(view, now, heard),
        _level_line(view, heard),
        _audio_and_notes(view, latency),
    )


def _identity_and_state(view: AgentView, now: float, speaking: bool) -> Text:
    text = Text()
    text.append("identity ", style="dim")
    text.append(view.identity, style="bold")
    text.append("   name ", style="dim")
    text.append(view.name or "(none)")
    text.append("   kind ", style="dim")
    text.append(view.kind)
    text.append("\n")
    text.append("presence ", style="dim")
    text.append(view.presence(now), style="green" if view.connected else "bold red")
    text.append("   quality ", style="dim")
    text.append(view.quality)
    text.append("\n")
    text.append("state ", style="dim")
    text.append(view.agent_state or "(no lk.agent.state)", style="bold")
    text.append("   ")
    if speaking:
        text.append("● SPEAKING", style="bold green")
    else:
        text.append("○ quiet", style="dim")
    return text


def _level_line(view: AgentView, speaking: bool) -> Text:
    text = Text()
    text.append("level ", style="dim")
    level = view.level_dbfs
    text.append(level_meter(level), style="green" if speaking else "cyan")
    shown = "—" if level is None or level <= SILENCE_DBFS else f"{level:5.1f} dBFS"
    text.append(f" {shown}")
    return text


def _audio_and_notes(view: AgentView, latency: str) -> Text:
    text = Text()
    text.append("audio ", style="dim")
    track = view.audio
    if track is None:
        text.append("no audio track published", style="bold red")
    else:
        text.append_text(_flag(track.published, "published", "unpublished"))
        text.append(" · ")
        if track.subscription_error:
            text.append(f"subscription failed: {track.subscription_error}", style="bold red")
        else:
            text.append_text(_flag(track.subscribed, "subscribed", "not subscribed"))
        text.append(" · ")
        text.append("MUTED" if track.muted else "unmuted", style="bold red" if track.muted else "")
        text.append(f" · {track.sid}", style="dim")
    if latency:
        text.append("\nlatency ", style="dim")
        text.append(latency)
    if view.role == "unmatched":
        text.append("\nunmatched: ", style="bold yellow")
        text.append(view.match_reason)
    return text


def transcript_text(lines: list[TranscriptLine]) -> Text:
    """Finished lines plain, the line in progress dimmed with an ellipsis."""
    text = Text()
    for index, line in enumerate(lines[-TRANSCRIPT_LINES_SHOWN:]):
        if index:
            text.append("\n")
        if line.final:
            text.append(line.text)
        else:
            text.append(line.text + " …", style="italic dim")
    return text


def _update_in_place(static: Static, text: Text) -> None:
    """Show ``text`` in ``static``, re-laying out the screen only if its height changes.

    A layout reflows and repaints the whole screen (and the log's scroll bars); a repaint only
    redraws the widget. Level meters and streamed transcript words change the text several times
    a second but its wrapped height rarely, so most updates need no layout.
    """
    static.update(text, layout=False)  # also clears the cached content height
    width = static.content_size.width
    if (
        not width
        or static.get_content_height(static.content_size, static.app.size, width)
        != static.content_size.height
    ):
        static.refresh(layout=True)


class AgentPane(Vertical):
    """A live view of one agent; shows why it is missing when it is not in the room.

    Titled ``<title> (<name>)``: the name the observer sees once the agent is here, else the
    one its scenario gives (``name``), so a pane never shows one name for another's agent.
    """

    def __init__(self, title: str, role: str, *, name: str = "", id: str | None = None) -> None:
        super().__init__(id=id, classes="agent-pane")
        self._title = title
        self._role = role
        self._expected_name = name
        self._shown_transcript: tuple[int, int] = (-1, -1)
        self._shown_title = ""
        # the status block's parts as shown (see status_parts); None: hidden
        self._parts: dict[str, Text | None] = {part: Text() for part in _STATUS_PARTS}
        self._transcript = Text()

    def compose(self) -> ComposeResult:
        for part in _STATUS_PARTS:
            yield Static(id=f"{self.id}-{part}", classes="agent-info")
        with VerticalScroll(classes="agent-transcript"):
            yield Static(id=f"{self.id}-transcript", classes="transcript-text")

    def on_mount(self) -> None:
        self.show_missing("not observing a room yet", None)
        self.ready = True

    ready = False
    """Mounted with its parts: until then a pane cannot be shown anything."""

    def _titled(self, name: str) -> str:
        return f"{self._title} ({name})" if name else self._title

    def set_expected_name(self, name: str) -> None:
        """The name the room's scenario gives this pane's agent (shown while it is missing)."""
        self._expected_name = name

    def show_missing(self, why: str, missing_for: float | None) -> None:
        """No participant fills this role: say so and why."""
        self._set_title(self._titled(self._expected_name))
        self.set_class(True, "-missing")
        self.set_class(False, "-speaking")
        self.set_class(False, "-left")
        duration = f" for {missing_for:.0f} s" if missing_for is not None else ""
        text = Text(f"MISSING{duration}\n", style="bold red")
        text.append(why)
        self._set_status((text, None, None))
        self._set_transcript([], (0, 0))

    def show_agent(
        self, view: AgentView, now: float, latency: str = "", speaking: bool | None = None
    ) -> None:
        """Show ``view``; ``speaking``: heard speaking in its audio (None: the server says)."""
        heard = view.speaking if speaking is None else speaking
        self.set_class(False, "-missing")
        self.set_class(heard and view.connected, "-speaking")
        self.set_class(not view.connected, "-left")
        self._set_title(self._titled(view.name or view.identity))
        self._set_status(status_parts(view, now, latency, heard))
        # The transcript only changes with a transcript event: skip re-rendering otherwise.
        self._set_transcript(view.lines(), (id(view), view.counters.transcript_updates))

    def _set_title(self, title: str) -> None:
        # Setting border_title repaints the whole pane (border, status and transcript), even
        # to the same value: at several renders a second that was most of the dashboard's drawing.
        if title != self._shown_title:
            self._shown_title = title
            self.border_title = title

    def _set_status(self, texts: tuple[Text | None, Text | None, Text | None]) -> None:
        for part, text in zip(_STATUS_PARTS, texts, strict=True):
            if text == self._parts[part]:
                continue
            static = self.query_one(f"#{self.id}-{part}", Static)
            if text is None:
                static.display = False
            else:
                if self._parts[part] is None:
                    static.display = True
                _update_in_place(static, text)
            self._parts[part] = text

    def _set_transcript(self, lines: list[TranscriptLine], version: tuple[int, int]) -> None:
        if version == self._shown_transcript:
            return
        self._shown_transcript = version
        self._transcript = transcript_text(lines)
        _update_in_place(self.query_one(f"#{self.id}-transcript", Static), self._transcript)
        scroll = self.query_one(".agent-transcript", VerticalScroll)
        scroll.scroll_end(animate=False)

    @property
    def info_text(self) -> str:
        """The plain text currently shown in the status block (for tests and screenshots)."""
        return "\n".join(text.plain for text in self._parts.values() if text is not None)

    @property
    def transcript_plain(self) -> str:
        return self._transcript.plain

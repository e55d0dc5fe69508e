"""The agent pane in a small Textual app: what it shows stays whole as its text changes.

The pane redraws its status block and transcript without a new layout when their height stays
the same; these tests check that text which grows (a transcript line that wraps, a status block
that gains a line) is still shown whole, and that the transcript keeps following its end.
"""

from __future__ import annotations

import time

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.widgets import Static

from tui.core.agent_view import AgentView
from tui.core.events import AudioLevel, ParticipantJoined, TranscriptSegment
from tui.core.state import RoomState
from tui.ui.widgets.agent_pane import AgentPane

ROOM = "room-pane"
TIM = "dispatcher-tim"


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield AgentPane("Dispatcher", "dispatcher", id="pane-dispatcher")


def tim_in_room() -> RoomState:
    state = RoomState(ROOM)
    state.apply(
        ParticipantJoined(
            room=ROOM,
            identity=TIM,
            name="Tim",
            kind="agent",
            attributes=(("dispatch.role", "dispatcher"),),
        )
    )
    return state


def tim(state: RoomState) -> AgentView:
    view = state.dispatcher()
    assert view is not None
    return view


def shown(widget: Static) -> str:
    """The text the widget draws in its current area (what a stale height would cut off)."""
    width, height = widget.size
    strips = widget.render_lines(Region(0, 0, width, height))
    return " ".join(strip.text.strip() for strip in strips)


async def test_a_growing_transcript_line_is_shown_whole_and_followed() -> None:
    state = tim_in_room()
    app = PaneApp()
    async with app.run_test(size=(60, 16)) as pilot:
        pane = app.query_one(AgentPane)
        transcript = app.query_one("#pane-dispatcher-transcript", Static)
        scroll = app.query_one(".agent-transcript", VerticalScroll)

        words = [f"word{index}" for index in range(40)]
        for count in range(1, len(words) + 1):
            state.apply(TranscriptSegment(ROOM, TIM, "SG_1", " ".join(words[:count])))
            pane.show_agent(tim(state), time.monotonic())
            await pilot.pause()
            # every word so far is drawn, including the one that just wrapped to a new line
            assert words[count - 1] in shown(transcript)
            assert scroll.scroll_y == scroll.max_scroll_y
        assert transcript.size.height > 3  # it wrapped, and the height followed

        state.apply(TranscriptSegment(ROOM, TIM, "SG_1", "Short and final.", final=True))
        pane.show_agent(tim(state), time.monotonic())
        await pilot.pause()
        assert transcript.size.height == 1
        assert shown(transcript) == "Short and final."


async def test_status_block_redraws_levels_and_grows_with_a_latency_line() -> None:
    state = tim_in_room()
    app = PaneApp()
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(AgentPane)
        level_line = app.query_one("#pane-dispatcher-level", Static)
        audio = app.query_one("#pane-dispatcher-audio", Static)
        for level in (-20.0, -31.5, -12.25):
            state.apply(AudioLevel(ROOM, TIM, rms_dbfs=level, track_sid="TR_1"))
            pane.show_agent(tim(state), time.monotonic())
            await pilot.pause()
            assert f"{level:5.1f} dBFS" in shown(level_line)
            assert f"{level:5.1f} dBFS" in pane.info_text
        height = audio.size.height

        pane.show_agent(tim(state), time.monotonic(), latency="reply 0.4 s")
        await pilot.pause()
        assert audio.size.height == height + 1
        assert "reply 0.4 s" in shown(audio)
        assert pane.border_title is not None and "Tim" in str(pane.border_title)


async def test_a_missing_agent_shows_only_why_and_the_meter_returns_with_it() -> None:
    state = tim_in_room()
    app = PaneApp()
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(AgentPane)
        level_line = app.query_one("#pane-dispatcher-level", Static)
        pane.show_missing("Tim left the room", 4.0)
        await pilot.pause()
        assert pane.info_text == "MISSING for 4 s\nTim left the room"
        assert not level_line.display

        pane.show_agent(tim(state), time.monotonic())
        await pilot.pause()
        assert level_line.display
        assert "level " in shown(level_line)
        assert "MISSING" not in pane.info_text

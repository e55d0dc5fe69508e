"""Recovering the lines whose transcript streams were cut (tui.core.said_ledger): pure rules
here; tests/test_cluster.py's ten-room test is the end-to-end case (a call's last line cut on
a busy machine)."""

from __future__ import annotations

from agents.constants import SAID_LINES_ATTRIBUTE
from agents.said_lines import SaidLines, encode_said
from tui.core.events import AttributesChanged, ParticipantJoined, TranscriptSegment
from tui.core.said_ledger import SaidLedger, passed_over, unheard

CHRIS = "driver-chris"


def said(*lines: str, count: int | None = None) -> SaidLines:
    return SaidLines(len(lines) if count is None else count, lines)


def test_nothing_is_unheard_when_every_line_arrived() -> None:
    assert unheard(said("Hey Tim.", "Goodbye Tim."), ["Hey Tim.", "Goodbye  Tim. "]) == []


def test_the_lines_after_the_last_heard_are_unheard() -> None:
    assert unheard(said("Hey Tim.", "Sure.", "Goodbye Tim."), ["Hey Tim."]) == [
        "Sure.",
        "Goodbye Tim.",
    ]


def test_a_repeated_line_is_matched_in_order() -> None:
    assert unheard(said("Yes.", "Yes."), ["Yes."]) == ["Yes."]


def test_a_line_heard_in_other_words_is_not_recovered_twice() -> None:
    # a realtime transcript may differ from the text the relay recorded: the count says so
    assert unheard(said("Hey Tim.", "Goodbye Tim."), ["Hey, Tim.", "Goodbye Tim."]) == []
    assert unheard(said("Hey Tim.", "Goodbye Tim."), ["Hey, Tim."]) == ["Goodbye Tim."]


def test_a_line_never_heard_before_lines_that_were_is_unheard() -> None:
    # on a swamped machine a call's first line never reached the observer; the rest did
    assert unheard(said("Hi Chris.", "Which load?", "Bye."), ["Which load?", "Bye."]) == [
        "Hi Chris."
    ]
    assert unheard(said("one", "two", "three"), ["one", "three"]) == ["two"]


def test_a_line_in_other_words_accounts_for_one_missing_line_of_its_gap() -> None:
    # before a line that arrived the earliest are missing; after the last, the newest
    assert unheard(said("one", "two", "three"), ["Two!", "three"]) == ["one"]
    assert unheard(said("one", "two", "three"), ["One!", "Two!"]) == ["three"]


def test_lines_older_than_the_window_are_not_counted_as_other_words() -> None:
    # ten lines said, the attribute keeps the last three; eight heard, the ninth lost
    window = said("eight", "nine", "ten", count=10)
    heard = [str(n) for n in range(1, 8)] + ["ten"]
    assert unheard(window, heard) == ["eight", "nine"]
    assert unheard(window, [*heard[:7], "eight", "ten"]) == ["nine"]


def test_only_lines_in_the_window_can_be_recovered() -> None:
    assert unheard(said("nine", "ten", count=10), []) == ["nine", "ten"]


def test_lines_passed_over_are_the_unheard_ones_before_the_line_arriving() -> None:
    lines = said("one", "two", "three")
    assert passed_over(lines, [], "two") == [(0, "one")]
    assert passed_over(lines, ["one"], "three") == [(1, "two")]
    assert passed_over(lines, ["one"], "two") == []
    # a line the attribute does not list yet is the next one
    assert passed_over(said("one"), [], "two") == [(0, "one")]
    assert passed_over(said("one"), ["one"], "two") == []
    # once this agent was heard in other words, an unlisted line could be a listed one
    assert passed_over(said("one", "two"), ["One!"], "Two!") == []
    assert passed_over(lines, ["One!"], "two") == []
    # a repeated line matches its next occurrence
    assert passed_over(said("Yes.", "No.", "Yes."), ["Yes."], "Yes.") == [(1, "No.")]


def _segment(segment_id: str, text: str, final: bool) -> TranscriptSegment:
    return TranscriptSegment("room", CHRIS, segment_id, text, final=final, track_id="TR_1")


def _attributes(*lines: str) -> tuple[tuple[str, str], ...]:
    return ((SAID_LINES_ATTRIBUTE, encode_said(list(lines))),)


def _said_changed(attributes: tuple[tuple[str, str], ...]) -> AttributesChanged:
    """The event of the agent updating its said lines (the key is among the changed ones)."""
    return AttributesChanged("room", CHRIS, attributes, attributes)


def test_a_cut_stream_is_finished_under_its_own_segment_id() -> None:
    ledger = SaidLedger("room")
    ledger.seen(ParticipantJoined("room", CHRIS, attributes=_attributes()))
    ledger.seen(_segment("SG_1", "Hey Tim.", final=True))
    ledger.seen(_said_changed(_attributes("Hey Tim.")))
    ledger.seen(_segment("SG_2", "Goodbye", final=False))  # then the stream was cut
    ledger.seen(_said_changed(_attributes("Hey Tim.", "Goodbye Tim.")))
    [recovered] = ledger.recover(CHRIS)
    assert (recovered.segment_id, recovered.text, recovered.final) == (
        "SG_2",
        "Goodbye Tim.",
        True,
    )
    assert recovered.track_id == "TR_1"
    assert ledger.recover(CHRIS) == [], "recovered once"


def test_a_cut_stream_is_paired_with_the_line_it_began_not_the_newest() -> None:
    # a busy observer: "Sure." cut after its first words, "Goodbye Tim." never started
    ledger = SaidLedger("room")
    ledger.seen(_segment("SG_1", "Hey Tim.", final=True))
    ledger.seen(_segment("SG_2", "Su", final=False))
    ledger.seen(_segment("SG_2", "Sure", final=False))
    ledger.seen(_said_changed(_attributes("Hey Tim.", "Sure.", "Goodbye Tim.")))
    recovered = ledger.recover(CHRIS)
    assert [(s.segment_id, s.text) for s in recovered] == [
        ("SG_2", "Sure."),
        (f"said:{CHRIS}:2", "Goodbye Tim."),
    ]


def test_a_line_never_started_gets_an_id_of_its_own() -> None:
    ledger = SaidLedger("room")
    ledger.seen(_segment("SG_1", "Hey Tim.", final=True))
    ledger.seen(_said_changed(_attributes("Hey Tim.", "Goodbye Tim.")))
    [recovered] = ledger.recover(CHRIS)
    assert recovered.segment_id == f"said:{CHRIS}:1"
    assert recovered.text == "Goodbye Tim."


def test_a_first_line_never_heard_gets_its_own_index() -> None:
    ledger = SaidLedger("room")
    ledger.seen(ParticipantJoined("room", CHRIS, attributes=_attributes()))
    ledger.seen(_segment("SG_2", "Sure.", final=True))
    ledger.seen(_said_changed(_attributes("Hey Tim.", "Sure.")))
    [recovered] = ledger.recover(CHRIS)
    assert (recovered.segment_id, recovered.text) == (f"said:{CHRIS}:0", "Hey Tim.")


def test_a_line_passed_over_is_recovered_once_before_the_next() -> None:
    ledger = SaidLedger("room")
    ledger.seen(_said_changed(_attributes("Hey Tim.")))
    second = _segment("SG_2", "Sure.", final=True)
    ledger.seen(_segment("SG_2", "Sure", final=False))
    [recovered] = ledger.passed_over(second)
    assert (recovered.segment_id, recovered.text) == (f"said:{CHRIS}:0", "Hey Tim.")
    ledger.seen(second)
    ledger.seen(_said_changed(_attributes("Hey Tim.", "Sure.")))
    assert ledger.owed(CHRIS) == [] and ledger.recover(CHRIS) == []


def test_a_participant_without_the_attribute_recovers_nothing() -> None:
    ledger = SaidLedger("room")
    ledger.seen(_segment("SG_1", "Hey", final=False))
    assert ledger.recover(CHRIS) == []


def test_owed_lines_are_those_not_heard_yet() -> None:
    ledger = SaidLedger("room")
    ledger.seen(_said_changed(_attributes("Hey Tim.", "Goodbye Tim.")))
    ledger.seen(_segment("SG_1", "Hey Tim.", final=True))
    assert ledger.owed(CHRIS) == ["Goodbye Tim."]
    ledger.seen(_segment("SG_2", "Goodbye Tim.", final=True))
    assert ledger.owed(CHRIS) == []
    assert ledger.recover(CHRIS) == []


def test_history_is_every_line_said_before_anything_was_heard_once() -> None:
    ledger = SaidLedger("room")
    ledger.seen(ParticipantJoined("room", CHRIS, attributes=_attributes("Hey Tim.", "Sure.")))
    history = ledger.history(CHRIS)
    assert [(s.segment_id, s.text, s.final) for s in history] == [
        (f"said:{CHRIS}:0", "Hey Tim.", True),
        (f"said:{CHRIS}:1", "Sure.", True),
    ]
    assert ledger.history(CHRIS) == [], "once"
    assert ledger.owed(CHRIS) == [], "they count as heard"


def test_no_history_for_a_speaker_already_heard() -> None:
    ledger = SaidLedger("room")
    ledger.seen(_segment("SG_1", "Hey", final=False))
    ledger.seen(_said_changed(_attributes("Hey Tim.")))
    assert ledger.history(CHRIS) == []


def test_an_attribute_change_that_leaves_the_lines_alone_is_not_read_again() -> None:
    ledger = SaidLedger("room")
    ledger.seen(_said_changed(_attributes("Hey Tim.")))
    # the agent's state changes: the complete set still carries the (unchanged) lines
    state = (*_attributes("not what was said"), ("lk.agent.state", "speaking"))
    ledger.seen(AttributesChanged("room", CHRIS, state, (("lk.agent.state", "speaking"),)))
    assert ledger.owed(CHRIS) == ["Hey Tim."]


def test_a_speaker_seen_again_after_the_observer_reconnected_brings_no_history() -> None:
    # a full reconnect of the observer: every participant leaves and joins, same session ids
    ledger = SaidLedger("room")
    ledger.seen(ParticipantJoined("room", CHRIS, attributes=_attributes(), sid="PA_1"))
    ledger.seen(_segment("SG_1", "Hey Tim.", final=True))
    ledger.seen(_said_changed(_attributes("Hey Tim.")))
    assert ledger.recover(CHRIS) == []
    again = ParticipantJoined("room", CHRIS, attributes=_attributes("Hey Tim."), sid="PA_1")
    assert ledger.returning(again)
    ledger.seen(again)
    assert ledger.history(CHRIS) == [], "heard before the reconnect"
    ledger.seen(_said_changed(_attributes("Hey Tim.", "Sure.")))
    assert ledger.owed(CHRIS) == ["Sure."]


def test_a_new_session_of_the_same_identity_brings_its_history() -> None:
    ledger = SaidLedger("room")
    ledger.seen(ParticipantJoined("room", CHRIS, attributes=_attributes(), sid="PA_1"))
    ledger.seen(_segment("SG_1", "Hey Tim.", final=True))
    ledger.recover(CHRIS)
    new = ParticipantJoined("room", CHRIS, attributes=_attributes("Hello again."), sid="PA_2")
    assert not ledger.returning(new)
    ledger.seen(new)
    assert [s.text for s in ledger.history(CHRIS)] == ["Hello again."]

"""The call record: every observed room leaves evidence on disk.

A :class:`~tui.core.record.recorder.CallRecorder` is fed the observer's domain events and audio
frames and writes, off the event loop, one run directory per call (:mod:`.store`):
``events.jsonl`` (every event on one clock, :mod:`.codec`), one WAV per agent, and at the end
``report.json`` (:mod:`.report_json`), built from the events alone with the pure turn-taking
analytics of :mod:`.analytics` over the speaking intervals heard in the audio (:mod:`.speech`).
:mod:`.html_report` turns a run directory into one self-contained HTML page.
"""

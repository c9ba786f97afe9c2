"""One writer per ledger: API workers hand their drafts to the ``ledger writer`` process over a local socket.

:mod:`adapters.writer.wire` is the msgspec framing both sides speak, :mod:`adapters.writer.client` the API
workers' side (a drop-in for the in-process group committer), :mod:`adapters.writer.server` the writer's
side and :mod:`adapters.writer.election` who may be the writer (docs/deployment.md "One writer").
"""

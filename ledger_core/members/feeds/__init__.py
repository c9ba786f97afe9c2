"""Batch feeds of the members context (seed 001 §2): eligibility in, enrollment and outcome feeds out.

``formats`` (names, columns, problems), ``parsing`` (streaming CSV / JSON / JSON Lines readers),
``eligibility_file`` and ``deliveries`` (the aggregates that make feeds restartable and incremental),
``loading`` (the bulk path), ``outbound`` (enrollment and outcome rows), ``use_cases`` (:class:`Feeds`,
``ledger.feeds``), ``ports`` (the set-at-a-time log reads). Files themselves are read and written in
``adapters/feeds/``.
"""

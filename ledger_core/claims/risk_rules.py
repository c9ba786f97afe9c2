"""The fraud-risk rules (seed 000 §3.1 "real-time fraud scoring", §5.2 ``riskAssessment``): small pure functions.

Each rule reads only the recorded :class:`~ledger_core.claims.verification_inputs.VerificationInputs` and the
parameters of its rule set, and either stays silent or returns a :class:`RuleHit` (a stable code, a
weight and one sentence). The score is the sum of the weights that fired, capped at 100; the level
follows documented cut-offs (:data:`MEDIUM_FROM`, :data:`HIGH_FROM`). Nothing here reads a clock or
storage, so a decision recomputed from recorded inputs is bit-for-bit the recorded one.

Tuning: parameters live in :class:`RuleParameters`; a changed parameter is a new rule set under a new
name in :data:`RULE_SETS` (never edit a published one: recorded decisions name the set that made them).
See ``docs/verification.md``.

Rule sets: ``rules-v1`` (the first) recorded and reported exact counts of other claims listing a hash,
other partners' included, from the hash alone; ``rules-v2`` (current) tells a partner about other
partners' claims only for a document it proved it holds, and only whether there are any
(:class:`CrossPartnerSignal`, ``docs/verification.md`` "Tenancy").
"""

from __future__ import annotations

import bisect
import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Context, Decimal
from enum import StrEnum

from ledger_core.claims import exact_ln
from ledger_core.claims.verification_inputs import OtherPartners, VerificationInputs
from ledger_core.shared.vocabulary import RiskLevel

MEDIUM_FROM = 30
"""Scores 30..59 are ``medium``."""
HIGH_FROM = 60
"""Scores 60..100 are ``high``: the claim is ``flagged`` and ``claim.fraud_detected`` is raised."""

DECIMAL_CONTEXT = Context(prec=28)
"""Every statistic is computed in this context, so results are identical on every machine."""
MODIFIED_Z_FACTOR = Decimal("0.6745")
"""Iglewicz & Hoaglin's constant: 0.6745 * (x - median) / MAD is a z-score for normal data."""


class CrossPartnerSignal(StrEnum):
    """What a verification may learn about other partners' claims listing the same document."""

    COUNTS = "counts"
    """``rules-v1``: how many other claims list the hash and how many are other partners', from the hash
    alone (a partner could probe for a document's existence elsewhere knowing only its hash)."""
    POSSESSION = "possession"
    """``rules-v2``: only for a document the partner registered (over HTTP: uploaded, so it holds the
    bytes), and only whether any other partner's claim lists it: no count, no identity."""


@dataclass(frozen=True, slots=True)
class RuleParameters:
    """The tunable numbers of one rule set (see ``docs/verification.md``)."""

    document_reuse_weight: int = 60
    amount_outlier_weight: int = 60
    amount_outlier_z: Decimal = Decimal("3.5")
    amount_min_history: int = 20
    amount_history_size: int = 200
    amount_mad_floor: Decimal = Decimal("0.05")
    velocity_weight: int = 60
    velocity_window_days: int = 30
    velocity_max_other_claims: int = 1
    future_weight: int = 35
    future_tolerance_seconds: int = 300
    late_weight: int = 25
    late_after_days: int = 365
    metadata_weight: int = 35
    cross_partner: CrossPartnerSignal = CrossPartnerSignal.COUNTS


RULE_SETS: Mapping[str, RuleParameters] = {
    "rules-v1": RuleParameters(),
    "rules-v2": RuleParameters(cross_partner=CrossPartnerSignal.POSSESSION),
}
CURRENT_RULE_SET = "rules-v2"


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that fired: its code (a ``factors`` entry), its weight and the sentence explaining it."""

    code: str
    weight: int
    sentence: str


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """Seed 000 §5.2 ``riskAssessment``: score 0..100, level, the codes and sentences of the rules that fired."""

    score: int
    level: RiskLevel
    hits: tuple[RuleHit, ...]

    @property
    def factors(self) -> list[str]:
        return [hit.code for hit in self.hits]

    @property
    def explanation(self) -> str:
        return " ".join(hit.sentence for hit in self.hits) or "No risk rule fired."


Rule = Callable[[VerificationInputs, RuleParameters], RuleHit | None]


def document_reuse(inputs: VerificationInputs, params: RuleParameters) -> RuleHit | None:
    """``document_reused``: a listed document already appears in another claim (see :class:`CrossPartnerSignal`)."""
    if params.cross_partner is CrossPartnerSignal.POSSESSION:
        return _document_reuse_v2(inputs, params)
    reused = [doc for doc in inputs.documents if doc.other_claims > 0]
    if not reused:
        return None
    others = sum(doc.other_claims for doc in reused)
    foreign = sum(doc.other_partner_claims for doc in reused)
    return RuleHit(
        "document_reused",
        params.document_reuse_weight,
        f"{len(reused)} document(s) already appear in {others} other claim(s), {foreign} of them from other partners.",
    )


def _document_reuse_v2(inputs: VerificationInputs, params: RuleParameters) -> RuleHit | None:
    """The partner's own other claims by count; other partners' only as "some" for documents it holds."""
    own = [doc for doc in inputs.documents if (doc.own_other_claims or 0) > 0]
    foreign = [doc for doc in inputs.documents if doc.other_partners is OtherPartners.SOME]
    if not own and not foreign:
        return None
    sentences = []
    if own:
        count = sum(doc.own_other_claims or 0 for doc in own)
        sentences.append(f"{len(own)} document(s) already appear in {count} other claim(s) of this partner.")
    if foreign:
        sentences.append(f"{len(foreign)} document(s) also appear in claims of other partners.")
    return RuleHit("document_reused", params.document_reuse_weight, " ".join(sentences))


def amount_outlier(inputs: VerificationInputs, params: RuleParameters) -> RuleHit | None:
    """``amount_outlier``: modified z-score of ln(amount) against the partner's history beyond the threshold.

    Robust statistics (median and MAD of the log-amounts of the partner's most recent claims of the same
    type and currency): one huge claim in the history cannot hide the next one.
    """
    history = inputs.amount_history
    if history.count < params.amount_min_history or history.median is None or history.mad is None:
        return None
    z = modified_z(Decimal(inputs.claim_amount), Decimal(history.median), Decimal(history.mad), params)
    if abs(z) <= params.amount_outlier_z:
        return None
    side = "above" if z > 0 else "below"
    return RuleHit(
        "amount_outlier",
        params.amount_outlier_weight,
        f"The amount {inputs.claim_amount} {inputs.currency} is far {side} this partner's {history.count} recent"
        f" {inputs.claim_type} claims (robust z-score {z.quantize(Decimal('0.1'), context=DECIMAL_CONTEXT)},"
        f" threshold {params.amount_outlier_z}).",
    )


def velocity_burst(inputs: VerificationInputs, params: RuleParameters) -> RuleHit | None:
    """``velocity_burst``: too many claims of the partner name the same policy/claimant reference in the window."""
    if inputs.reference_key is None or inputs.reference_claims <= params.velocity_max_other_claims:
        return None
    return RuleHit(
        "velocity_burst",
        params.velocity_weight,
        f"{inputs.reference_claims} other claim(s) with the same {inputs.reference_key} were submitted within"
        f" {params.velocity_window_days} days of this one (at most {params.velocity_max_other_claims} expected).",
    )


def submitted_in_future(inputs: VerificationInputs, params: RuleParameters) -> RuleHit | None:
    """``submitted_in_future``: ``submittedAt`` is later than the ledger received the claim (beyond a tolerance)."""
    ahead = _seconds_between(inputs.received_at, inputs.submitted_at)
    if ahead <= params.future_tolerance_seconds:
        return None
    return RuleHit(
        "submitted_in_future",
        params.future_weight,
        f"submittedAt is {_duration(ahead)} after the ledger received the claim.",
    )


def submitted_late(inputs: VerificationInputs, params: RuleParameters) -> RuleHit | None:
    """``submitted_late``: the ledger received the claim implausibly long after its ``submittedAt``."""
    late = _seconds_between(inputs.submitted_at, inputs.received_at)
    if late <= params.late_after_days * 86_400:
        return None
    return RuleHit(
        "submitted_late",
        params.late_weight,
        f"The claim reached the ledger {_duration(late)} after its submittedAt (more than {params.late_after_days}"
        " days).",
    )


def metadata_inconsistent(inputs: VerificationInputs, params: RuleParameters) -> RuleHit | None:
    """``document_metadata_inconsistent``: document metadata contradicts the claim or its own registration."""
    keys = sorted({key for doc in inputs.documents for key in doc.metadata_conflicts})
    if not keys:
        return None
    count = sum(1 for doc in inputs.documents if doc.metadata_conflicts)
    return RuleHit(
        "document_metadata_inconsistent",
        params.metadata_weight,
        f"Metadata of {count} document(s) contradicts the claim or the registered document ({', '.join(keys)}).",
    )


RULES: Sequence[Rule] = (
    document_reuse,
    amount_outlier,
    velocity_burst,
    submitted_in_future,
    submitted_late,
    metadata_inconsistent,
)
"""Every rule, in the order their factors and sentences are reported."""


def assess(inputs: VerificationInputs, params: RuleParameters) -> RiskAssessment:
    """Run every rule; score = sum of the fired weights capped at 100; level by the documented cut-offs."""
    hits = tuple(hit for rule in RULES if (hit := rule(inputs, params)) is not None)
    score = min(100, sum(hit.weight for hit in hits))
    return RiskAssessment(score, risk_level(score), hits)


def risk_level(score: int) -> RiskLevel:
    if score >= HIGH_FROM:
        return RiskLevel.HIGH
    return RiskLevel.MEDIUM if score >= MEDIUM_FROM else RiskLevel.LOW


def modified_z(amount: Decimal, median: Decimal, mad: Decimal, params: RuleParameters) -> Decimal:
    """0.6745 * (ln(amount) - median) / max(MAD, floor), in :data:`DECIMAL_CONTEXT`."""
    spread = max(mad, params.amount_mad_floor)
    deviation = DECIMAL_CONTEXT.subtract(_ln(str(amount)), median)
    return DECIMAL_CONTEXT.divide(DECIMAL_CONTEXT.multiply(MODIFIED_Z_FACTOR, deviation), spread)


def log_amount_summary(amounts: Sequence[str]) -> tuple[str | None, str | None]:
    """(median, MAD) of ln(amount), as decimal strings with 6 places; (None, None) for no amounts."""
    if not amounts:
        return None, None
    logs = _WINDOWS.sorted_logs(tuple(amounts))
    median = _median(logs)
    mad = _median_deviation(logs, median)
    places = Decimal("0.000001")
    return str(median.quantize(places, context=DECIMAL_CONTEXT)), str(mad.quantize(places, context=DECIMAL_CONTEXT))


def _median_deviation(logs: Sequence[Decimal], median: Decimal) -> Decimal:
    """The median of ``|x - median|`` over the sorted ``logs`` without computing and sorting every deviation:
    those of the values at or below the median grow going left, the others going right, so the middle ones
    are order statistics of two sorted runs, found by bisection (one bisection gives both middle values of
    an even count: the one below is the largest of the rest). The same values as sorting (the same
    subtraction in the same context, and rounding is monotone)."""
    split = bisect.bisect_right(logs, median)
    below, above = split, len(logs) - split

    def left(index: int) -> Decimal:  # the index-th smallest deviation of the values at or below the median
        return abs(DECIMAL_CONTEXT.subtract(logs[split - 1 - index], median))

    def right(index: int) -> Decimal:
        return abs(DECIMAL_CONTEXT.subtract(logs[split + index], median))

    need = len(logs) // 2 + 1  # the deviations up to the middle one, all sorted: how many from each run
    low, high = max(0, need - above), min(need, below)
    while True:
        taken = (low + high) // 2
        rest = need - taken
        if taken < below and rest > 0 and right(rest - 1) > left(taken):
            low = taken + 1
        elif taken > 0 and rest < above and left(taken - 1) > right(rest):
            high = taken - 1
        else:
            break
    # The middle deviation is the largest of the ``need`` smallest: the last taken from either run.
    from_left = left(taken - 1) if taken > 0 else None
    from_right = right(rest - 1) if rest > 0 else None
    if from_right is None or (from_left is not None and from_left >= from_right):
        middle, before = from_left, [from_right, left(taken - 2) if taken > 1 else None]
    else:
        middle, before = from_right, [from_left, right(rest - 2) if rest > 1 else None]
    if middle is None:
        raise ValueError("no deviation to take the median of")
    if len(logs) % 2:
        return middle
    return _median([max(value for value in before if value is not None), middle])


class _LogWindows:
    """Sorted ln(amount) lists of recent amount histories (per thread), so a history that moved on by one
    amount (the oldest out, the newest in, or only the newest in) is updated by bisection instead of sorted
    again: consecutive claims of a partner's type and currency see such histories. The same sorted list."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._local = threading.local()

    def sorted_logs(self, amounts: tuple[str, ...]) -> list[Decimal]:
        cache: dict[tuple[str, ...], tuple[tuple[str, ...], list[Decimal]]] = self._cache()
        found = cache.pop(amounts[:-1], None)
        if found is None:
            logs = sorted(map(_ln, amounts))
        else:
            previous, logs = found[0], list(found[1])
            if len(previous) == len(amounts):  # slid: previous[1:] + (newest,)
                del logs[bisect.bisect_left(logs, _ln(previous[0]))]
            bisect.insort(logs, _ln(amounts[-1]))
        for key in (amounts, amounts[1:]):  # the next history grows from this one, or slides
            cache[key] = (amounts, logs)
        while len(cache) > self._size:
            del cache[next(iter(cache))]
        return logs

    def _cache(self) -> dict[tuple[str, ...], tuple[tuple[str, ...], list[Decimal]]]:
        cache = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = {}
        return cache


_WINDOWS = _LogWindows()


@functools.lru_cache(maxsize=65_536)
def _ln(amount: str) -> Decimal:
    """ln(amount) in :data:`DECIMAL_CONTEXT` (memoised: a partner's recent amounts recur in every summary;
    :func:`~ledger_core.claims.exact_ln.ln`: ``Decimal.ln``'s result, faster)."""
    return exact_ln.ln(Decimal(amount), DECIMAL_CONTEXT)


def _median(ordered: Sequence[Decimal]) -> Decimal:
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return DECIMAL_CONTEXT.divide(DECIMAL_CONTEXT.add(ordered[middle - 1], ordered[middle]), Decimal(2))


def _seconds_between(earlier: str, later: str) -> int:
    """Whole seconds from ``earlier`` to ``later`` (negative when ``later`` is before ``earlier``)."""
    delta: timedelta = datetime.fromisoformat(later) - datetime.fromisoformat(earlier)
    return int(delta.total_seconds())


def _duration(seconds: int) -> str:
    if seconds >= 2 * 86_400:
        return f"{seconds // 86_400} days"
    if seconds >= 7_200:
        return f"{seconds // 3_600} hours"
    return f"{seconds // 60} minutes"

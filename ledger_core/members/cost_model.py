"""The cost model behind the outcome feed's money metrics (seed 001 §2.4, §3.3 endpoint 3).

The seed shows ``projected_savings_5yr`` and ``cost_per_mz`` without saying how they are computed, so the
model is ours, documented here and in ``docs/eligibility.md``, and configurable per deployment:

* **program cost** = ``enrolled_members x cost_per_enrollment + tests_completed x cost_per_test``
  (kit, lab and counseling folded into either figure as the deployment prefers);
* **projected 5-year savings** = ``mz_detected x savings_per_mz_5yr + zz_detected x savings_per_zz_5yr``
  (early detection of an alpha-1 carrier or patient: avoided claims over five years);
* **cost per MZ** = program cost / ``mz_detected`` (None when no MZ was detected).

The defaults reproduce the seed's example month: 32 MZ x $1,800 = $57,600 of savings, and 842 enrollments
x $350 / 32 MZ = $9,209 per MZ (the seed prints $9,208; its own inputs are not given). ZZ savings default
to 0 because the seed's example counts MZ only; set them for a real deployment. Money is ``Decimal`` in
whole currency units; the API rounds half-even to whole dollars as the seed does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from ledger_core.engine.errors import InvalidCommand


@dataclass(frozen=True, slots=True)
class CostModel:
    """Per-unit costs and savings in the deployment's currency (all >= 0)."""

    cost_per_enrollment: Decimal = Decimal("350")
    cost_per_test: Decimal = Decimal("0")
    savings_per_mz_5yr: Decimal = Decimal("1800")
    savings_per_zz_5yr: Decimal = Decimal("0")

    def __post_init__(self) -> None:
        for name in ("cost_per_enrollment", "cost_per_test", "savings_per_mz_5yr", "savings_per_zz_5yr"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise InvalidCommand(f"{name} must be a finite decimal >= 0", field=name, value=str(value))

    def program_cost(self, enrolled: int, tests_completed: int) -> Decimal:
        return enrolled * self.cost_per_enrollment + tests_completed * self.cost_per_test

    def projected_savings_5yr(self, mz_detected: int, zz_detected: int) -> Decimal:
        return mz_detected * self.savings_per_mz_5yr + zz_detected * self.savings_per_zz_5yr

    def cost_per_mz(self, enrolled: int, tests_completed: int, mz_detected: int) -> Decimal | None:
        if mz_detected <= 0:
            return None
        return self.program_cost(enrolled, tests_completed) / mz_detected

    @classmethod
    def from_mapping(cls, values: dict[str, str | int | float]) -> CostModel:
        """Build from configuration (``LEDGER_COST_MODEL`` JSON); unknown names are refused."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidCommand(f"unknown cost model fields {unknown}", field=unknown[0])
        try:
            return cls(**{name: Decimal(str(value)) for name, value in values.items()})
        except ArithmeticError:
            raise InvalidCommand("cost model values must be decimals", field="cost_model") from None


def whole_units(amount: Decimal) -> int:
    """``amount`` rounded half-even to whole currency units (the seed prints dollars without cents)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))

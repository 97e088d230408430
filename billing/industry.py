"""GB/T 4754-2017 industry codes and which industries are high-energy (programme.md M1).

Decided by the code, never by the name: an industry is high-energy-consuming when the first two
digits of its code (its division, 大类) are one of the six divisions below. This is a fact shown
about an industry or account (``Industry.high_energy``, ``Account.high_energy``), never an
eligibility decision: who gets the 95% is the policy row's ``excluded_divisions`` (billing.rules).
"""

import re

# 25 石油、煤炭及其他燃料加工业, 26 化学原料和化学制品制造业, 30 非金属矿物制品业,
# 31 黑色金属冶炼和压延加工业, 32 有色金属冶炼和压延加工业, 44 电力、热力生产和供应业.
HIGH_ENERGY_DIVISIONS = frozenset({"25", "26", "30", "31", "32", "44"})

INDUSTRY_CODE_RE = re.compile(r"^\d{4}$")


# GB/T 4754-2017 numbers its divisions (大类) 01 … 97 without gaps (A 01–05 … T 97).
DIVISIONS = frozenset(f"{n:02d}" for n in range(1, 98))


def is_valid_industry_code(code: str) -> bool:
    """Four digits whose first two name a GB/T 4754-2017 division."""
    return bool(INDUSTRY_CODE_RE.match(code or "")) and code[:2] in DIVISIONS


def is_high_energy(code: str | None) -> bool:
    """True when the 4-digit GB/T 4754-2017 code belongs to a high-energy division."""
    if not code:
        return False
    if not is_valid_industry_code(code):
        raise ValueError(f"not a 4-digit GB/T 4754-2017 code: {code!r}")
    return code[:2] in HIGH_ENERGY_DIVISIONS

"""Monthly cost of synthesized stacks: ``python -m tools.cost`` (see ``__main__``) over this library.

``price_dirs`` prices the stacks under some directories (``pricers/`` holds one module per AWS area),
``price_options`` totals the guide's options from them, ``price_commitments`` prices those options with
1- and 3-year commitments, ``compare`` says how two such estimates differ, and ``render/`` writes them
as text, markdown or JSON.
"""

from tools.cost.assumptions import ASSUMPTIONS, default_assumptions, parse_assumptions
from tools.cost.commitments import price_commitments
from tools.cost.compare import compare
from tools.cost.estimate import price_dirs, price_stack
from tools.cost.model import CostError, Line, StackCost
from tools.cost.options import OPTIONS, price_options
from tools.cost.prices import load_prices

__all__ = [
    "ASSUMPTIONS",
    "OPTIONS",
    "CostError",
    "Line",
    "StackCost",
    "compare",
    "default_assumptions",
    "load_prices",
    "parse_assumptions",
    "price_commitments",
    "price_dirs",
    "price_options",
    "price_stack",
]

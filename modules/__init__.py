"""Constructs of the HOMU infrastructure, one module per AWS concern.

Importing this package (before ``cdktf``) arranges for the jsii runtime, which the first ``cdktf``
import starts, to preload ``jsii/lazy_provider_index.js``: it cuts loading the AWS provider's
assembly from ~3.6 s to ~0.3 s. Imported after ``cdktf``, everything still works, only slower.
"""

import os
from pathlib import Path

_LAZY_INDEX = Path(__file__).with_name("jsii") / "lazy_provider_index.js"
_PRELOAD = f'--require "{_LAZY_INDEX}"'
if _PRELOAD not in os.environ.get("NODE_OPTIONS", ""):
    os.environ["NODE_OPTIONS"] = f"{os.environ.get('NODE_OPTIONS', '')} {_PRELOAD}".strip()
# Node 20 is what the build machines carry; its end-of-life banner is noise on every synth.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

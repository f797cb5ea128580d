#!/usr/bin/env python
"""The cdktf app: read settings, add the stacks, synthesize. ``python main.py`` or ``cdktf synth``."""

import os
import sys

from modules.names import STACKS
from modules.settings import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings()
        # Imported only once settings are valid: the AWS bindings are the slow part of synthesis.
        from modules.app import synth, warnings

        outdir = synth(settings)  # raises SettingsError for what only the constructs can check
    except SettingsError as error:
        for line in error.lines:
            print(f"error: {line}", file=sys.stderr)
        print("nothing was synthesized; fix the settings above and run again", file=sys.stderr)
        return 2
    if not os.environ.get("CDKTF_OUTDIR"):  # the cdktf CLI prints warnings itself
        for warning in warnings(outdir):
            print(f"warning: {warning}", file=sys.stderr)
    print(f"synthesized {', '.join(STACKS)} ({settings.environment}) into {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

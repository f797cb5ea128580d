"""The deploy rehearsal: every stack deployed, checked, re-planned and destroyed on a local AWS emulator.

``python -m tools.rehearsal`` is the command line (``__main__``); ``run.Rehearsal`` the library it is
a thin layer over; ``emulator`` moto with its gaps filled, one module per AWS service; ``terraform``
the Terraform runner; ``checks`` what must hold after apply and destroy; ``settings`` what the
rehearsal adds to a configuration.
"""

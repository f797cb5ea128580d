"""The doctor: the deployment guide's troubleshooting list ("the database connection fails", "ECS tasks
do not start", "the bill is too high") answered from the account, read-only, one line per check.

``doctor.diagnose`` runs the checks of each deployed compute (``database``, ``cache``, ``tasks`` or
``host``, ``bill``); ``render`` prints them; ``__main__`` is the command.
"""

"""The names the deployment guide gives what it builds by hand (``../shared/seed``'s steps), for the
tools that find it (``tools.adopt``) and replay it (``tools.rehearsal.guide``). No cdktf import."""

# The secrets its task definition reads: the database URL holds the master password in clear text.
SECRETS = ("homu/db-url", "homu/redis-url", "homu/secret-key")
SECRET_KEY_SECRET = "homu/secret-key"
# Rules the guide opens to the world that the project's design never has.
WORLD_OPEN_PORTS = (22, 8000)
# Secrets removed by the retire step stay recoverable for this many days (Secrets Manager's minimum).
RECOVERY_WINDOW_DAYS = 7

#!/bin/bash
# Writes the backend's two env files into the directory given (homu-backend.service runs it before
# every start):
#   .env         the app's variables, and Compose's own: no secret, the app signs its credentials;
#   db-init.env  the one-shot db-init service's: the master password, read from Secrets Manager with
#                the instance role, so app.dbinit always signs in with the password RDS rotated to.
# Secret values never pass through user data or Terraform: only their ARNs are written here.
set -euo pipefail

directory="$1"
region="@REGION@"

secret() {
  aws secretsmanager get-secret-value --region "$region" --secret-id "$1" --query SecretString --output text
}

# Single-quoted .env values are taken literally by Docker Compose; a value that is empty or could
# break out of the quotes is refused rather than written wrongly.
entry() {
  case "$2" in
    "" | *"'"* | *$'\n'*)
      echo "homu-render-env: $1 is empty or contains a quote or a newline; refusing to write it" >&2
      return 1
      ;;
  esac
  printf "%s='%s'\n" "$1" "$2"
}

# Assignments, not arguments: a failed read stops the script (set -e) instead of writing ''.
@READS@

app_entries() {
@APP_ENTRIES@
}

init_entries() {
@INIT_ENTRIES@
}

# publish FILE ENTRIES: the function's lines replace FILE whole, or FILE stays as it was.
publish() {
  staging="$(mktemp "$1.XXXXXX")"
  trap 'rm -f "$staging"' EXIT
  "$2" >"$staging"
  mv "$staging" "$1"
  trap - EXIT
}

umask 077
publish "$directory/.env" app_entries
publish "$directory/db-init.env" init_entries

#!/bin/bash
# Writes the backend's .env: the secrets read from Secrets Manager with the instance role
# (homu-backend.service runs it before every start, so a rotated password is picked up on restart)
# and the plain values below. Secret values never pass through user data or Terraform: only their
# ARNs are written here.
set -euo pipefail

target="$1"
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

umask 077
staging="$(mktemp "$target.XXXXXX")"
trap 'rm -f "$staging"' EXIT
{
@ENTRIES@
} >"$staging"
mv "$staging" "$target"
trap - EXIT

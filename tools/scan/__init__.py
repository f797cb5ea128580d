"""Policy scan: checkov plus the project's own policies on synthesized stacks and the Dockerfile.

    python -m tools.scan                      # every stack under cdktf.out/stacks, and backend/Dockerfile
    python -m tools.scan DIR [DIR ...]        # these stack directories only (any cdktf/Terraform JSON output)
    python -m tools.scan --sarif out.sarif --junit out.xml
    python -m tools.scan --plan plan.json DIR # a `terraform show -json` plan of the stack in DIR

Prints every failure with check id, resource and file, lists every exception with its reason, and
exits 1 on any failure, on any file checkov could not parse, or if a project policy failed to load.
``runner`` stages the stacks, runs checkov and applies the exceptions; ``text``, ``sarif`` and
``junit`` write the results.
"""

"""What the privileged CI jobs run, always from the base branch: the environments to plan, the check
that a GitHub environment is protected, the allowlist of synthesized JSON, and the plans.

Nothing here imports cdktf: the privileged jobs never synthesize (docs/ci-cd.md).
"""

"""CloudWatch Logs: a key associated with an existing log group."""

from __future__ import annotations


def patch_kms_association() -> None:
    """AssociateKmsKey and DisassociateKmsKey set and clear a log group's key, as AWS does.

    moto 5.2.5 takes a key only at CreateLogGroup and answers both calls with a 500, which the
    provider retries for many minutes: adopting a log group made without a key (the guide's
    ``/ecs/homu-backend``) updates it in place with AssociateKmsKey.
    """
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.responses import LogsResponse

    def set_key(response: LogsResponse, key: str | None) -> str:
        groups = response.logs_backend.groups
        name = response._get_param("logGroupName")
        if name not in groups:
            raise ResourceNotFoundException()
        groups[name].kms_key_id = key
        return ""

    LogsResponse.associate_kms_key = lambda self: set_key(self, self._get_param("kmsKeyId"))
    LogsResponse.disassociate_kms_key = lambda self: set_key(self, None)

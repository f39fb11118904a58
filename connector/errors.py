"""The error vocabulary, grouped by what the caller should do next.

Input and config mistakes exit 2 with a precise message; vendor errors are split into
retriable, fatal and authentication so the job runner can decide without string matching.
No error here ever carries a secret: constructors take only what is safe to show.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""

    exit_code = 1


class InputError(ConnectorError):
    """Bad input from a person or a file: shown as is, exit code 2."""

    exit_code = 2


class ConfigError(InputError):
    """A settings or mapping-file problem."""


class StoreError(ConnectorError):
    """A database failure, translated at the store boundary."""


class RetriableStoreError(StoreError):
    """A transient database failure (lock, serialization, lost connection)."""


class VendorError(ConnectorError):
    """A vendor API call failed. Carries what helps an operator, never a secret."""

    retriable = False

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        operation: str,
        status: int | None = None,
        body_excerpt: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.vendor = vendor
        self.operation = operation
        self.status = status
        self.body_excerpt = body_excerpt
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status is not None else ""
        request = f" [request id {self.request_id}]" if self.request_id else ""
        return f"{self.vendor} {self.operation} failed{status}: {self.message}{request}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(vendor={self.vendor!r}, operation={self.operation!r}, "
            f"status={self.status!r}, message={self.message!r})"
        )


class RetriableAPIError(VendorError):
    """429, 5xx, timeouts and dropped connections: try again later."""

    retriable = True


class FatalAPIError(VendorError):
    """Any other 4xx: retrying will not help; the job becomes a dead letter."""


class AuthenticationError(FatalAPIError):
    """401/403: the credential is wrong, expired or lacks permission."""


class NotFoundError(FatalAPIError):
    """404 or the vendor's "does not exist" message."""


class EffectPending(ConnectorError):
    """The effect cannot run yet (e.g. a completion before its assignment); retry later."""


class SafetyStop(InputError):
    """A bulk effect (many assignments, many leavers) is over a configured limit: nothing was
    changed, and a person must look and run again with `--confirm`."""

"""Every model module is imported here, so `Base.metadata` knows the whole schema."""

from common.models.identity import (
    IdempotencyRecord,
    LoginThrottle,
    RefreshToken,
    Role,
    UserAccount,
    WalletEntry,
    WalletEntryKind,
)

__all__ = [
    "IdempotencyRecord",
    "LoginThrottle",
    "RefreshToken",
    "Role",
    "UserAccount",
    "WalletEntry",
    "WalletEntryKind",
]

"""Every refusal the engine makes is a HitlError whose message names the rule in plain words.

The UI and CLI show `str(error)` as-is (one line), so messages are written for the person at the
keyboard: what was refused, why, and where it helps, how to fix it.
"""

from __future__ import annotations


class HitlError(Exception):
    """Base class: a refusal or failure that should reach the user as one clear line."""

    #: short machine-readable name of the rule, used in JSON output and tests
    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # always a single line, whatever the caller passed
        return " ".join(self.message.split())


# --- input -----------------------------------------------------------------------------------

class ValidationFailed(HitlError):
    """Input data does not satisfy the policy (missing, negative, non-numeric, unknown word...)."""

    code = "validation_failed"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownWorkflowType(ValidationFailed):
    code = "unknown_workflow_type"


class PolicyError(HitlError):
    """The policy file itself is malformed."""

    code = "policy_error"


# --- people and permissions ------------------------------------------------------------------

class UnknownUser(HitlError):
    code = "unknown_user"

    def __init__(self, username: str, hint: str | None = None) -> None:
        text = f"No user named {username!r} in the user directory"
        text += f"; {hint}" if hint else "; an administrator adds people with `hitl-tui users add`."
        super().__init__(text)
        self.username = username


class UserExists(HitlError):
    code = "user_exists"


class PermissionDenied(HitlError):
    """RBAC said no: wrong role, not an administrator, cannot see this request..."""

    code = "permission_denied"


class SegregationOfDuties(PermissionDenied):
    """The same person may not request and decide, or decide two stages of one request."""

    code = "segregation_of_duties"


# --- workflow state --------------------------------------------------------------------------

class UnknownWorkflow(HitlError):
    code = "unknown_workflow"

    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"No workflow request with id {workflow_id!r}; `hitl-tui request list --view visible` "
                         f"shows the ones you may see.")
        self.workflow_id = workflow_id


class InvalidTransition(HitlError):
    """The action does not apply to the request's current status."""

    code = "invalid_transition"


class ConcurrentChange(HitlError):
    """Someone else changed the request between reading and deciding; nothing was written."""

    code = "concurrent_change"


# --- store and keys --------------------------------------------------------------------------

class StoreError(HitlError):
    code = "store_error"


class DatabaseMissing(StoreError):
    code = "database_missing"


class DatabaseExists(StoreError):
    code = "database_exists"


class NotADatabase(StoreError):
    code = "not_a_database"


class WrongKey(StoreError):
    code = "wrong_key"


class KeyMissing(StoreError):
    code = "key_missing"


class StoreLocked(StoreError):
    """The key is somewhere we cannot reach right now (a locked or unresponsive keyring)."""

    code = "store_locked"


class InsecureKeyFile(StoreError):
    code = "insecure_key_file"


class StoreBusy(StoreError):
    code = "store_busy"


# --- audit -----------------------------------------------------------------------------------

class AuditChainBroken(HitlError):
    code = "audit_chain_broken"


class CheckpointError(HitlError):
    """A checkpoint file is unreadable, unsigned, or its signature does not verify."""

    code = "checkpoint_error"


# --- keys (added by the keys.py work) --------------------------------------------------------

class KeyInvalid(StoreError):
    """A key was supplied but is malformed (not 64 hex characters, empty passphrase, bad salt)."""

    code = "key_invalid"


class KeyExists(StoreError):
    """Creating a key would overwrite one that already exists (key-file salt, keyring entry)."""

    code = "key_exists"


# --- the database's files and their filesystem (added by the store-faults work) ------------

class WrongPassphrase(WrongKey):
    """The key derived from a passphrase does not open the database (a WrongKey, so the desk's
    unlock screen asks again)."""

    code = "wrong_passphrase"


class DatabaseDamaged(StoreError):
    """The key is right (page 1 decrypts) but the file is truncated or its pages are corrupt."""

    code = "database_damaged"


class StoreReadOnly(StoreError):
    """The database, its directory or its filesystem cannot be written by this account."""

    code = "store_read_only"


class WalFilesForeign(StoreReadOnly):
    """The database's -wal/-shm files belong to another account or group that this one cannot use."""

    code = "wal_files_foreign"


class DiskFull(StoreError):
    """No space left on the filesystem holding the database."""

    code = "disk_full"


# --- the filter language (added by the search work) -----------------------------------------

class FilterError(ValidationFailed):
    """A search filter or sort the user typed does not parse: the one line names the bad token
    and what is allowed there (core/filter_query.py). `token` is the offending piece of text."""

    code = "bad_filter"

    def __init__(self, message: str, token: str = "", field: str = "search") -> None:
        super().__init__(message, field)
        self.token = token


class SettingsInvalid(ValidationFailed):
    """A setting (config file, environment, argument) that is malformed or not allowed; the line
    names the file or the variable, the key, and what is allowed (core/settings.py)."""

    code = "settings_invalid"


class SigningRefused(HitlError):
    """A signed action cannot be signed here: the person's registered key is not in this OS
    account's key store, was revoked, or is locked by a passphrase nobody gave (signatures.py)."""

    code = "signing_refused"


class ReauthRequired(SigningRefused):
    """The policy asks for the key's passphrase at this signing (21 CFR 11.200) and none was given,
    or it was wrong, or the key has none."""

    code = "reauth_required"


class PersonalKeyError(HitlError):
    """This account's personal key store (personal_keys.py) cannot be read or written."""

    code = "personal_key_error"


class BundleRefused(HitlError):
    """`export-audit --bundle DIR` cannot write the auditor's bundle (DIR not empty, the kit
    missing from this installation, the entries changing while they were proven)."""

    code = "bundle_refused"


class TokenRefused(HitlError):
    """A bearer token of the HTTP API that is missing, malformed, unknown or revoked
    (core/tokens.py): the HTTP API answers 401. Here, with the others, so the service's
    refusal reaches its client as this class (remote/protocol.py maps codes to these)."""

    code = "token_refused"

"""Access tokens: kept per instance in the user's config folder, or given by GANCIO_TOKEN.

The store is ``$XDG_CONFIG_HOME/gancio-site/tokens.json`` (``~/.config/gancio-site/`` when
the variable is unset): the folder is made 0700 and the file 0600 before a token is written
into it, and it is replaced atomically. A token is never taken from a store that other
users may open (any group or other permission bit): its tokens are as good as passwords.
``GANCIO_TOKEN`` wins over the store, so CI needs no file at all. Gancio tokens never
expire and cannot be revoked (API.md section 3): forgetting one here does not invalidate it
on the server.

Nothing in this module logs or formats a token.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import DataError

TOKEN_ENV = "GANCIO_TOKEN"  # noqa: S105 - the name of a variable, not a secret
LOGIN_HINT = "run `gancio-site login` (or set GANCIO_TOKEN)"
STORE_NAME = "tokens.json"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A token and where it came from (``GANCIO_TOKEN`` or the store's path)."""

    token: str
    source: str
    email: str = ""

    def __repr__(self) -> str:  # never show the token, even in a traceback
        return f"Credentials(token=<hidden>, source={self.source!r}, email={self.email!r})"


def store_path(env: Mapping[str, str] | None = None) -> Path:
    """Return the path of the token store, following the XDG base directory rules."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or ""
    folder = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return folder / "gancio-site" / STORE_NAME


def instance_key(instance: str) -> str:
    """Return the store's key for ``instance``: scheme and host lower-case, no trailing '/'."""
    parts = urlsplit(instance.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def load_credentials(instance: str, env: Mapping[str, str] | None = None) -> Credentials | None:
    """Return the token to use for ``instance``: GANCIO_TOKEN, else the stored one, else None."""
    env = os.environ if env is None else env
    if env.get(TOKEN_ENV, "").strip():
        return Credentials(env[TOKEN_ENV].strip(), TOKEN_ENV)
    path = store_path(env)
    entry = _read(path).get(instance_key(instance))
    if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
        return None
    _check_private(path)
    return Credentials(entry["token"], str(path), str(entry.get("email", "")))


def save_token(instance: str, token: str, email: str, env: Mapping[str, str] | None = None) -> Path:
    """Store ``token`` for ``instance`` (file 0600 in a 0700 folder); return the file's path."""
    path = store_path(env)
    tokens = _read(path)
    tokens[instance_key(instance)] = {"email": email, "token": token}
    _write(path, tokens)
    return path


def forget_token(instance: str, env: Mapping[str, str] | None = None) -> Path | None:
    """Remove the stored token of ``instance``; return the store's path, or None if none."""
    path = store_path(env)
    tokens = _read(path)
    if tokens.pop(instance_key(instance), None) is None:
        return None
    _write(path, tokens)
    return path


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DataError(
            f"cannot read the token store {path} ({type(exc).__name__}); "
            "delete it and run `gancio-site login` again"
        ) from None
    tokens = data.get("tokens") if isinstance(data, dict) else None
    return dict(tokens) if isinstance(tokens, dict) else {}


def _check_private(path: Path) -> None:
    """Refuse a store that users other than its owner may open (POSIX permissions)."""
    if os.name != "posix":
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return  # gone since it was read: nothing to protect
    if mode & 0o077:
        raise DataError(
            f"the token store {path} is not private (mode {mode:04o}); make it readable by "
            f"you only with `chmod 600 {path}`, or delete it and run `gancio-site login` again"
        )


def _write(path: Path, tokens: dict[str, Any]) -> None:
    """Write atomically; the temporary file is private from its creation on."""
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask, and may predate us
        text = json.dumps({"version": 1, "tokens": tokens}, indent=2, sort_keys=True) + "\n"
        handle, temporary = tempfile.mkstemp(prefix=".tokens-", dir=folder)  # mode 0600
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise DataError(f"cannot write the token store {path}: {exc.strerror or exc}") from None

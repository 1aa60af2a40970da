"""Where the toolkit connects: settings from (in order) arguments, the environment, then `.env` (pydantic-settings).

Without any configuration it targets the local sandbox with its demo credentials, so every notebook runs on a fresh
machine. Put the real API's base URL and credentials into `.env` and nothing else changes.
"""

from __future__ import annotations

import functools
import hashlib
import os
import zoneinfo
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from helpers.core.errors import ConfigurationError

# The local sandbox and its demo seed (see sandbox/seed.py; a test keeps the two in step).
SANDBOX_BASE_URL = "http://127.0.0.1:8765/api/external"
SANDBOX_CLIENT_ID = "demo-distributor"
SANDBOX_CLIENT_SECRET = "demo-secret"
SANDBOX_CAMPAIGN_ID = "dd97156f-1bc2-5ac4-ac37-299b7843555e"
SANDBOX_PRODUCT_ID = "1785a98d-63d0-57b7-8c63-2213f5ea275d"
GUIDE_SCOPES = "investors:write investors:read investments:write investments:read documents:write"
PREFIXES = ("/distributor/v2", "/v2")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
Environment = Literal["sandbox", "demo", "production"]


def find_env_file() -> Path | None:
    """The `.env` of the current folder or the nearest parent (notebooks in ``notebooks/`` find the project's)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / ".env").is_file():
            return folder / ".env"
    return None


@functools.lru_cache(maxsize=64)  # every request builds its URL from the base URL
def split_base_url(url: str) -> tuple[str, str | None]:
    """``https://Host:443/api/external/distributor/v2/`` -> (``https://host/api/external``, ``/distributor/v2``).

    One registry has one root, whatever the spelling: the case of scheme and host, a default port, a trailing slash,
    or a resource prefix (``/v2``, ``/distributor/v2``, ``/distributor``) left in the base URL.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = f"[{host}]" if ":" in host else host
    if port and not (scheme == "https" and port == 443) and not (scheme == "http" and port == 80):
        netloc += f":{port}"
    path = parts.path.rstrip("/")
    prefix = None
    for candidate in (*PREFIXES, "/distributor"):
        if path.endswith(candidate):
            path, prefix = path[: -len(candidate)], candidate if candidate != "/distributor" else "/distributor/v2"
            break
    return f"{scheme}://{netloc}{path}", prefix


@functools.cache
def _time_zones() -> dict[str, str]:
    """IANA's time zones by their name in lower case (read once: reading them takes a while)."""
    unlike = {"Factory", "localtime", "posixrules"}  # (files of the zone database, no zone of a place)
    return {zone.casefold(): zone for zone in zoneinfo.available_timezones() - unlike}


class Config(BaseSettings):
    """Connection settings (``CASHLINK_*`` in the environment or `.env`). The secret is a ``SecretStr``."""

    model_config = SettingsConfigDict(
        env_prefix="CASHLINK_", extra="ignore", frozen=True, env_ignore_empty=True, populate_by_name=True
    )

    base_url: str = SANDBOX_BASE_URL
    client_id: str = SANDBOX_CLIENT_ID
    client_secret: SecretStr = SecretStr(SANDBOX_CLIENT_SECRET)
    scopes: str = GUIDE_SCOPES
    campaign_id: str | None = SANDBOX_CAMPAIGN_ID
    product_id: str | None = SANDBOX_PRODUCT_ID
    api_prefix: str = "/v2"
    timeout: float = Field(30.0, gt=0)
    journal_path: Path | None = Field(  # default: .state/journal.sqlite3 of the project (see journal_file)
        None, validation_alias=AliasChoices("CASHLINK_JOURNAL", "CASHLINK_JOURNAL_PATH")
    )
    journal_days: int = Field(30, ge=1)  # journal entries expire after this many days; the audit trail stays
    page_size: int = Field(500, ge=1, le=10_000)  # asked for; the registry may serve fewer
    concurrency: int = Field(8, ge=1, le=64)  # parallel page fetches and bulk writes
    books_time_zone: str = "UTC"  # the zone of the books' days (a ledger's as_of): their day ends at midnight there
    source: str = "built-in sandbox defaults"

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        try:
            parts.port  # noqa: B018 - read to check it: 'host:abc' has no port
        except ValueError:
            parts = parts._replace(scheme="")  # refused below, with the sentence of every malformed address
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"CASHLINK_BASE_URL must be an http(s) address such as "
                f"https://demo.cashlink.de/api/external, not {value[:60]!r}."
            )
        return value.strip()

    @field_validator("books_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        """A time zone's name (IANA's, any case: utc, europe/berlin); blank is UTC (review 94)."""
        if not value.strip() or value.strip().casefold() == "utc":
            return "UTC"
        zone = _time_zones().get(value.strip().casefold())
        if zone is None:
            raise ValueError(
                f"CASHLINK_BOOKS_TIME_ZONE must name a time zone, such as Europe/Berlin, America/New_York or UTC, "
                f"not {value[:60]!r}."
            )
        return zone

    @model_validator(mode="after")
    def _prefix_from_url(self) -> Config:
        _root, prefix = split_base_url(self.base_url)
        if prefix and "api_prefix" not in self.model_fields_set:
            object.__setattr__(self, "api_prefix", prefix)
        return self

    # --- derived ------------------------------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        """The registry's base URL in one canonical spelling (no resource prefix, no trailing slash)."""
        return split_base_url(self.base_url)[0]

    @property
    def host(self) -> str:
        return urlsplit(self.root_url).hostname or ""

    @property
    def is_sandbox(self) -> bool:
        """True when the API is on this machine (the local sandbox)."""
        return self.host in LOOPBACK

    @property
    def environment(self) -> Environment:
        """Which registry writes go to: the local sandbox, a demo/staging registry, or production."""
        if self.is_sandbox:
            return "sandbox"
        if any(word in self.host for word in ("demo", "staging", "sandbox", "test")):
            return "demo"
        return "production"

    @property
    def api_url(self) -> str:
        return self.root_url + "/" + self.api_prefix.strip("/")

    @property
    def token_url(self) -> str:
        return self.root_url + "/oauth/token"

    @property
    def namespace(self) -> str:
        """One namespace per registry and client: the identity of every operation is scoped to it."""
        return f"{self.root_url}|{self.client_id}"

    @property
    def journal_file(self) -> Path:
        """Where the journal lives: ``CASHLINK_JOURNAL``; else ``.state/`` of the project (the folder of `.env`, or
        this checkout); else one folder per registry under ``~/.local/state/cashlink-toolkit``."""
        if self.journal_path is not None:
            return self.journal_path.expanduser()
        env_file = find_env_file()
        if env_file is not None:
            return env_file.parent / ".state" / "journal.sqlite3"
        checkout = Path(__file__).resolve().parents[2]
        if (checkout / "pyproject.toml").is_file() and os.access(checkout, os.W_OK):
            return checkout / ".state" / "journal.sqlite3"
        digest = hashlib.sha256(self.namespace.encode()).hexdigest()[:16]
        return Path("~/.local/state/cashlink-toolkit").expanduser() / digest / "journal.sqlite3"

    def replace(self, **changes: Any) -> Config:
        """A copy with some settings changed (validated again)."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        if "api_prefix" not in self.model_fields_set and "base_url" in changes:
            values.pop("api_prefix")  # derived again from the new base URL
        values.update(changes)
        return type(self)(_env_file=None, **values)

    def __repr__(self) -> str:
        return (
            f"Config(base_url={self.base_url!r}, client_id={self.client_id!r}, environment="
            f"{self.environment!r}, source={self.source!r})"
        )

    __str__ = __repr__


def variable_names() -> dict[str, str]:
    """Each setting's names in the environment and `.env` (upper case), and the setting each one sets."""
    names = {}
    for name, field in Config.model_fields.items():
        if name == "source":
            continue
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [f"CASHLINK_{name}"]
        names.update({str(choice).upper(): name for choice in choices})
    return names


def load_config(env_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Config:
    """Settings from (in order of precedence) ``overrides``, the process environment, then `.env`. An argument that
    names no setting is refused (a typo would otherwise be ignored without a word)."""
    unknown = sorted(set(overrides) - set(Config.model_fields))
    if unknown:
        raise ConfigurationError(
            f"No setting is called {', '.join(map(repr, unknown))}. The settings are: "
            f"{', '.join(name for name in Config.model_fields if name != 'source')}. Correct the name and run again."
        )
    path = Path(env_file) if env_file else find_env_file()
    given = {key: value for key, value in overrides.items() if value is not None}
    settings = variable_names()
    from_env = sorted(key for key, value in os.environ.items() if key.upper() in settings and value)  # (any case)
    sources = [f"the arguments ({', '.join(sorted(given))})"] if set(given) - {"source"} else []
    sources += [f"the environment ({', '.join(from_env)})"] if from_env else []
    sources += [str(path)] if path and path.is_file() else []
    if not sources:
        source = "built-in sandbox defaults"
    elif len(sources) == 1:
        source = sources[0]
    else:  # the first named wins
        source = ", then ".join(sources) + ", each before the next"
    given.setdefault("source", source)
    file = path if path and path.is_file() else None
    _warn_of_misspelt(settings, file)
    try:
        return Config(_env_file=file, **given)
    except ValidationError as exc:  # one sentence per setting, not pydantic's traceback
        problems = [_setting_problem(error, given, from_env, file) for error in exc.errors()]
        them = "it" if len(problems) == 1 else "each where it is set"
        raise ConfigurationError(f"{' '.join(problems)} Correct {them} and run again.") from None


def _setting_problem(error: Any, given: dict[str, Any], from_env: list[str], file: Path | None) -> str:
    """One sentence for a setting pydantic refused: its name as it was given (an argument, or a variable), where it
    was set, and what is wrong."""
    name = str(error["loc"][0]) if error.get("loc") else ""
    field = Config.model_fields.get(name)
    alias = field.validation_alias if field is not None else None
    variables = [str(c).upper() for c in alias.choices] if isinstance(alias, AliasChoices) else [f"CASHLINK_{name}"]
    set_in = [key for key in from_env if key.upper() in {v.upper() for v in variables}]
    if name in given:
        who = f"The argument {name}"
    elif set_in:
        who = f"{set_in[0]} (in the environment)"
    else:
        who = f"{variables[0].upper()} (in {file})" if file else variables[0].upper()
    said = str(error["msg"]).removeprefix("Value error, ").rstrip(".")
    if error.get("type") == "float_parsing":
        said = f"{str(error.get('input'))[:40]!r} is no number"
    elif error.get("type") in ("int_parsing", "int_from_float"):
        said = f"{str(error.get('input'))[:40]!r} is no whole number"
    for own in ("CASHLINK_BASE_URL ", "CASHLINK_BOOKS_TIME_ZONE "):  # (our own sentences name their variable: said
        said = said.removeprefix(own)  # once, as given; review 96: 'CASHLINK_BOOKS_TIME_ZONE (in .env): cASHLINK_…')
    return f"{who}: {said[0].lower()}{said[1:]}."


class SettingIgnoredWarning(UserWarning):
    """A ``CASHLINK_`` variable that names no setting, but is close to one's name: a typo, ignored."""


def _warn_of_misspelt(settings: dict[str, str], file: Path | None) -> None:
    """A CASHLINK_ variable (environment or `.env`) close to a setting's name is a typo, said once: it is ignored."""
    import difflib
    import warnings

    from dotenv import dotenv_values

    names = [key for key in os.environ if key.upper().startswith("CASHLINK_")]
    names += [key for key in (dotenv_values(file) if file else {}) if key.upper().startswith("CASHLINK_")]
    suffixes = {name.removeprefix("CASHLINK_"): name for name in settings}
    for key in dict.fromkeys(names):
        if key.upper() in settings:
            continue  # (the names after the prefix compared: CLIENT_KEY is not CLIENT_ID, JOURNAL_DIR not JOURNAL)
        close = difflib.get_close_matches(key.upper().removeprefix("CASHLINK_"), list(suffixes), n=1, cutoff=0.85)
        if close:
            warnings.warn(
                f"{key} is no setting of this toolkit, so it is ignored: did you mean {suffixes[close[0]]}? If it "
                "was meant for the toolkit, correct its name and run again.",
                SettingIgnoredWarning,
                stacklevel=3,
            )

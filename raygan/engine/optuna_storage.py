"""Where a run's Optuna study lives (``--optuna-storage``).

By default a journal file: in the run directory for a local run, in a cache on the driver
for a run on a URI (uploaded into the run at the end), which a lost head node loses with
the sampler's state. ``--optuna-storage`` names a place a cluster can keep instead: a
database URL (PostgreSQL, MySQL, SQLite: Optuna's ``RDBStorage``, through SQLAlchemy) or a
journal file on shared storage (Optuna's ``JournalFileBackend``). The URL's password is
never written into the run or printed: ``run.json`` keeps it masked, and a ``--resume``
gives the URL again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from raygan.engine.errors import StudyError
from raygan.engine.runs import RESUMING

# SQLAlchemy dialects Optuna's RDBStorage is tested with; "postgresql+psycopg2" and the
# like name a driver after the dialect.
RDB_DIALECTS = ("postgresql", "mysql", "sqlite", "mariadb")
# How long a database may take to answer before the run gives up (PostgreSQL, MySQL):
# SQLAlchemy's own default waits for the operating system, minutes for a host that drops
# packets.
CONNECT_TIMEOUT_S = 10
# The driver SQLAlchemy 2 picks for a bare dialect name ("postgresql://": psycopg 3).
DRIVERS = {"postgresql": '"psycopg[binary]"', "mysql": "PyMySQL", "mariadb": "PyMySQL"}


@dataclass(frozen=True)
class OptunaStorage:
    """A database URL (``url``) or a journal file (``journal``); ``shared``: named by the
    user (``--optuna-storage``), not the run's own journal."""

    url: str | None = None
    journal: Path | None = None
    shared: bool = False

    def open(self) -> BaseStorage:
        """Optuna's storage. Raises StudyError naming the storage where it cannot be
        reached or used (no driver, refused connection, bad credentials)."""
        if self.url is None:
            return JournalStorage(JournalFileBackend(str(self.journal)))
        dialect = urlsplit(self.url).scheme.split("+")[0]
        kwargs = {}
        if dialect in ("postgresql", "mysql", "mariadb"):
            kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}}
        try:
            return _PasswordlessPickle(self.url, engine_kwargs=kwargs)
        except ImportError:  # Optuna's own, for SQLAlchemy's missing driver module
            driver = DRIVERS.get(dialect, "the database's SQLAlchemy driver")
            raise StudyError(
                f"--optuna-storage: {self.shown}: no database driver for {dialect}; "
                f"pip install {driver}"
            ) from None
        except Exception as e:  # SQLAlchemy's and the driver's errors have no common base
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StudyError(f"--optuna-storage: cannot use {self.shown}: {reason[:300]}") from None

    @property
    def shown(self) -> str:
        """What may be printed and written: the URL without its password, or the path."""
        return masked(self.url) if self.url is not None else str(self.journal)

    def has_study(self, name: str) -> bool:
        return name in optuna.get_all_study_names(self.open())


class _PasswordlessPickle(RDBStorage):
    """RDBStorage whose pickled state (Tune saves the searcher, and with it its storage,
    into the run: tuner.pkl, searcher-state-*.pkl) holds the URL without its password. A
    resumed run unpickles it while RESUMING names the storage given again, URL and all."""

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "url": masked(self.url)}

    def __setstate__(self, state: dict) -> None:
        where = RESUMING.get()
        given = where[1].url if where is not None else None
        if given is not None and masked(given) == state["url"]:
            state = {**state, "url": given}
        super().__setstate__(state)


def masked(url: str) -> str:
    """``url`` with its password replaced by ``***``, read as SQLAlchemy reads it (a
    password may hold '/', '#' or '?', or come as a ``password=`` query parameter); a
    URL SQLAlchemy cannot read is not shown at all."""
    if "://" not in url:
        return url  # a journal path
    # here, not at the top: SQLAlchemy puts some 12,000 names in the driver's table of
    # interned strings, for a study that uses no database
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # SQLAlchemy's ArgumentError, ValueError for a bad host
        return "<a database URL that cannot be read>"
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


# what the messages below list as database URLs
_SCHEMES = ", ".join(f"{d}://" for d in RDB_DIALECTS)


def parse_optuna_storage(value: str) -> OptunaStorage:
    """``--optuna-storage``'s value: a database URL (``postgresql://user:pw@host/db``,
    ``sqlite:////abs/path.db``, ``mysql+pymysql://...``) or a journal file path
    (``/shared/optuna.journal``, ``~/optuna.journal`` or ``file:///shared/optuna.journal``;
    absolute: a relative one is refused). Raises StudyError for anything else, in one
    line."""
    value = value.strip()
    if not value:
        raise StudyError(
            "--optuna-storage: '' is empty; give a database URL or a journal file path"
        )
    try:
        scheme = urlsplit(value).scheme if "://" in value else ""
    except ValueError as e:  # urlsplit: an unbalanced '[' of an IPv6 host
        raise StudyError(f"--optuna-storage: {masked(value)!r}: {e}") from None
    if scheme.split("+")[0] in RDB_DIALECTS:
        return OptunaStorage(url=value, shared=True)
    if scheme in ("", "file"):
        path = Path(value.removeprefix("file://")).expanduser()
        if not path.is_absolute():  # a typo of a URL would become a journal file here
            raise StudyError(
                f"--optuna-storage: {masked(value)!r} is neither a database URL "
                f"({_SCHEMES}) nor an absolute journal file path (/shared/runs/study.journal)"
            )
        if value.endswith("/") or path.is_dir():
            raise StudyError(
                f"--optuna-storage: {value!r} is a directory; give a journal file "
                "(/shared/runs/study.journal) or a database URL"
            )
        if not path.parent.is_dir():
            raise StudyError(
                f"--optuna-storage: {value!r}: directory {str(path.parent)!r} does not exist"
            )
        return OptunaStorage(journal=path.resolve(), shared=True)
    raise StudyError(
        f"--optuna-storage: {masked(value)!r} must be a database URL ({_SCHEMES}) or a "
        "journal file path"
    )


def check_resumed_storage(recorded: str | None, given: OptunaStorage | None) -> None:
    """A resumed run continues the Optuna study where it was started: the same
    --optuna-storage (compared without its password), or none for the run's own journal.
    Raises StudyError otherwise."""
    if recorded is not None and given is None:
        raise StudyError(
            f"--resume: this run keeps its Optuna study in {recorded}; give --optuna-storage "
            "with that URL or path"
        )
    if given is not None and given.shown != recorded:
        where = recorded or "the run's own optuna.journal"
        raise StudyError(
            f"--optuna-storage: {given.shown} is not where this run keeps its Optuna study "
            f"({where})"
        )

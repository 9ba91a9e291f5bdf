"""What one producer run did (:class:`RunOutcome`) and how a step stops it (``_Failure``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from opendata_cli._exit import ExitCode

if TYPE_CHECKING:
    from opendata import PushResult
    from opendata_core.documents import ErrorClass, Stats


EXIT_OK: Final = int(ExitCode.OK)
EXIT_PRODUCER: Final = int(ExitCode.FAILED)
"""``main.py`` failed, returned bad data, or a check failed."""
EXIT_PUBLISH: Final = int(ExitCode.STORE)
"""The store refused or failed the publish."""


@dataclass
class RunOutcome:
    """What one run did: printed by ``od run``/``od demo`` and recorded in the run record."""

    folder: Path
    dry_run: bool
    started_at: datetime
    run_id: str
    dataset_id: str | None = None
    status: Literal["success", "failure"] = "success"
    error_class: ErrorClass | None = None
    message: str | None = None
    hint: str | None = None
    exit_code: int = EXIT_OK
    finished_at: datetime | None = None
    main_seconds: float | None = None
    rows: int | None = None
    columns: list[str] = field(default_factory=list)
    min_time: str | None = None
    max_time: str | None = None
    schema_hash: str | None = None
    schema_changed: bool = False
    result: PushResult | None = None
    publish_id: str | None = None
    stats: Stats | None = None
    self_published: bool = False
    store: str | None = None
    record_key: str | None = None
    warnings: list[str] = field(default_factory=list)
    exception: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Whether the run succeeded."""
        return self.status == "success"

    @property
    def coverage(self) -> str | None:
        """``min .. max`` of the time column, if there is one."""
        from opendata_core.timerange import coverage_text

        return coverage_text(self.min_time, self.max_time)

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON-ready data (``--json``)."""
        r = self.result
        return {
            "dataset_id": self.dataset_id,
            "path": str(self.folder),
            "status": self.status,
            "dry_run": self.dry_run,
            "published": r is not None or self.self_published,
            "exit_code": self.exit_code,
            "error_class": self.error_class,
            "message": self.message,
            "hint": self.hint,
            "run_id": self.run_id,
            "started_at": _iso_z(self.started_at),
            "finished_at": _iso_z(self.finished_at) if self.finished_at else None,
            "main_seconds": round(self.main_seconds, 3) if self.main_seconds is not None else None,
            "rows": self.rows,
            "columns": self.columns,
            "min_time": self.min_time,
            "max_time": self.max_time,
            "bytes": self.stats.bytes if self.stats else None,
            "schema_hash": self.schema_hash,
            "schema_changed": self.schema_changed,
            "unchanged": r is not None and r.unchanged,
            "publish_id": self.publish_id,
            "shards_written": r.shards_written if r else None,
            "shards_reused": r.shards_reused if r else None,
            "store": self.store,
            "run_record": self.record_key,
            "warnings": self.warnings,
        }


class _Failure(Exception):
    """Internal: stops a run with a classified, one-line message."""

    def __init__(
        self,
        error_class: ErrorClass,
        message: str,
        *,
        hint: str | None = None,
        exit_code: int = EXIT_PRODUCER,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.error_class: ErrorClass = error_class
        self.message = message
        self.hint = hint
        self.exit_code = exit_code
        self.cause = cause


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

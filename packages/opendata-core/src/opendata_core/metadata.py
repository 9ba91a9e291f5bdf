"""``opendata.yaml``: the producer's description of a dataset, its loader, checker and writer.

Example:
    >>> from opendata_core import load_metadata
    >>> meta = load_metadata("examples/ecb-euro-fx-rates/opendata.yaml")  # doctest: +SKIP
    >>> meta.id, meta.source.provider  # doctest: +SKIP
    ('ecb/euro-fx-rates', 'European Central Bank')
"""

from __future__ import annotations

import difflib
import io
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from opendata_core._problems import Problem
from opendata_core._reference import check_country, check_license
from opendata_core.errors import InvalidDatasetId, MetadataError
from opendata_core.files import write_atomic
from opendata_core.ids import DatasetId, validate_github_owner

if TYPE_CHECKING:
    # ruamel.yaml costs ~0.1 s to import; it is loaded only when a file is read or written,
    # so `import opendata` stays fast.
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

__all__ = [
    "FREQUENCIES",
    "PARTITIONS",
    "DatasetMetadata",
    "Geo",
    "MetadataReport",
    "MetadataWarning",
    "Retention",
    "Source",
    "check_metadata",
    "load_metadata",
    "update_metadata",
    "validate_metadata",
]

FREQUENCIES: Final = ("hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "adhoc")
"""Allowed values of ``frequency``."""
PARTITIONS: Final = ("year", "month", "day", "none")
"""Allowed values of ``partition``."""
GEO_SCOPES: Final = ("global", "region", "country", "multi")

Partition = Literal["year", "month", "day", "none"]
GeoScope = Literal["global", "region", "country", "multi"]


# These Structs are tolerant of unknown fields on purpose: they are also embedded in the wire
# documents (metadata.json, index.json), which must accept fields added by newer producers.
# Strictness for the user-written file comes from the checker below, which rejects unknown keys
# with a location and a "did you mean" (msgspec's own strict mode gives neither).
# See docs/decisions/0001-strict-yaml-tolerant-wire.md.
class Source(msgspec.Struct, kw_only=True, frozen=True):
    """Where the data comes from."""

    provider: str
    """Who publishes the original data, e.g. ``"European Central Bank"``."""
    homepage: str | None = None
    """The provider's home page (http/https URL)."""
    dataset: str | None = None
    """The page or endpoint of the original dataset (http/https URL)."""


class Geo(msgspec.Struct, kw_only=True, frozen=True):
    """Geographic coverage."""

    scope: GeoScope | None = None
    countries: list[str] = []
    """ISO 3166-1 alpha-2 codes, upper case."""
    regions: list[str] = []
    """Free-form region names, e.g. ``"Euro area"``."""


class Retention(msgspec.Struct, kw_only=True, frozen=True):
    """Which published versions stay loadable (``retention`` in ``opendata.yaml``).

    A version is kept while it is among the last ``keep_versions`` publishes, or while it was
    current at some time in the last ``keep_days`` days; ``keep_all`` keeps every version. A
    field left out of the yaml mapping takes the default; ``0`` turns ``keep_days`` off. The
    rule itself is :func:`opendata_core.versions.retained_versions`.
    """

    keep_versions: int = 10
    keep_days: int = 90
    keep_all: bool = False


class DatasetMetadata(msgspec.Struct, kw_only=True, frozen=True):
    """The fields of ``opendata.yaml``.

    Build with :func:`load_metadata` (from a file) or :func:`validate_metadata` (from Python).
    """

    id: str
    title: str
    description: str
    license: str
    repo: str
    source: Source
    topics: list[str] = []
    geo: Geo | None = None
    owners: list[str] = []
    frequency: str | None = None
    time_column: str | None = None
    schedule: str | None = None
    partition: Partition | None = None
    primary_key: list[str] = []
    runner: list[str] = []
    retention: Retention | None = None
    """``None``: the default :class:`Retention` (the last 10 versions and 90 days)."""

    @property
    def dataset_id(self) -> DatasetId:
        """The parsed :class:`DatasetId`."""
        return DatasetId.parse(self.id)


class MetadataWarning(UserWarning):
    """A problem that is accepted, e.g. a licence that is not an SPDX identifier."""


@dataclass
class MetadataReport:
    """Everything :func:`check_metadata` found in one file."""

    path: str
    metadata: DatasetMetadata | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    @property
    def problems(self) -> list[Problem]:
        """Errors and warnings, in file order."""
        return sorted(self.errors + self.warnings, key=lambda p: (p.line or 0, p.column or 0))


# ---------------------------------------------------------------------------------------------
# Checking


_REQUIRED: Final = ("id", "title", "description", "license", "repo", "source")
_TOP_FIELDS: Final = tuple(f.name for f in msgspec.structs.fields(DatasetMetadata))
_SOURCE_FIELDS: Final = tuple(f.name for f in msgspec.structs.fields(Source))
_GEO_FIELDS: Final = tuple(f.name for f in msgspec.structs.fields(Geo))
_RETENTION_FIELDS: Final = tuple(f.name for f in msgspec.structs.fields(Retention))
_GITHUB_REPO_RE: Final = re.compile(
    r"https://github\.com/(?P<owner>[^/\s]+)/(?P<repo>[A-Za-z0-9._-]{1,100}?)(?:\.git)?/?"
)
_SSH_REPO_RE: Final = re.compile(
    r"(?:git@|ssh://git@)github\.com[:/]([^/\s]+)/([^/\s]+?)(?:\.git)?"
)
_URL_RE: Final = re.compile(r"https?://[^\s/$.?#][^\s]*")
_LABEL_RE: Final = re.compile(r"[A-Za-z0-9._:/-]{1,100}")
_COLUMN_MAX: Final = 255
_MONTHS: Final = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()  # noqa: SIM905
_DAYS: Final = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_CRON_FIELDS: Final[tuple[tuple[str, int, int, dict[str, int]], ...]] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {m: i + 1 for i, m in enumerate(_MONTHS)},
    ),
    ("day of week", 0, 6, {d: i for i, d in enumerate(_DAYS)}),
)


def _type_name(value: object) -> str:
    # isinstance, not type(): ruamel.yaml reads 1.5 as ScalarFloat, a float subclass
    for kind, name in (
        (bool, "a boolean"),
        (str, "a string"),
        (int, "an integer"),
        (float, "a number"),
        (type(None), "empty"),
        (list, "a list"),
        (dict, "a mapping"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _did_you_mean(value: str, options: Sequence[str]) -> str | None:
    match = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else None


def _fmt_path(parts: Sequence[str | int]) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else p
    return out


class _Checker:
    """Walks a YAML document, collecting problems with their positions."""

    def __init__(self, path: str, root: Any) -> None:
        self.path = path
        self.root = root
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    # -- positions ------------------------------------------------------------------------
    def _position(
        self, parts: Sequence[str | int], *, key: bool = False
    ) -> tuple[int | None, int | None]:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        node: Any = self.root
        pos: tuple[int, int] | None = None
        if isinstance(node, CommentedMap | CommentedSeq):
            pos = (node.lc.line, node.lc.col)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            try:
                if isinstance(node, CommentedMap) and part in node:
                    pos = node.lc.key(part) if (key and last) else node.lc.value(part)
                    node = node[part]
                elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                    pos = node.lc.item(part)
                    node = node[part]
                else:
                    break
            except (KeyError, AttributeError, TypeError):
                break
        if pos is None:
            return (None, None)
        return (pos[0] + 1, pos[1] + 1)

    def _add(
        self,
        parts: Sequence[str | int],
        message: str,
        *,
        hint: str | None = None,
        severity: Literal["error", "warning"] = "error",
        key: bool = False,
    ) -> None:
        line, column = self._position(parts, key=key)
        problem = Problem(
            path=self.path,
            line=line,
            column=column,
            field=_fmt_path(parts),
            message=message,
            hint=hint,
            severity=severity,
        )
        (self.errors if severity == "error" else self.warnings).append(problem)

    def error(
        self,
        parts: Sequence[str | int],
        message: str,
        hint: str | None = None,
        *,
        key: bool = False,
    ) -> None:
        self._add(parts, message, hint=hint, key=key)

    def warn(self, parts: Sequence[str | int], message: str, hint: str | None = None) -> None:
        self._add(parts, message, hint=hint, severity="warning")

    # -- shapes -----------------------------------------------------------------------------
    def mapping(
        self,
        parts: Sequence[str | int],
        value: Any,
        allowed: Sequence[str],
        required: Sequence[str] = (),
    ) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.error(parts, f"must be a mapping of {', '.join(allowed)}, got {_type_name(value)}")
            return None
        for k in value:
            if not isinstance(k, str) or k not in allowed:
                hint = _did_you_mean(str(k), allowed) if isinstance(k, str) else None
                self.error(
                    [*parts, str(k)],
                    f"unknown field {k!r}",
                    hint or f"allowed fields: {', '.join(allowed)}",
                    key=True,
                )
        for r in required:
            if r not in value:
                self.error(
                    parts,
                    f"missing required field {r!r}",
                )
        return {k: v for k, v in value.items() if isinstance(k, str) and k in allowed}

    def string(
        self, parts: Sequence[str | int], value: Any, *, max_len: int | None = None
    ) -> str | None:
        if not isinstance(value, str):
            example = f' (quote it: "{value}")' if isinstance(value, int | float | bool) else ""
            self.error(parts, f"must be a string, got {_type_name(value)}{example}")
            return None
        if not value.strip():
            self.error(parts, "must not be empty")
            return None
        if max_len is not None and len(value) > max_len:
            self.error(parts, f"is {len(value)} characters long; the limit is {max_len}")
            return None
        return value

    def optional_string(
        self,
        mapping: Mapping[str, Any],
        key: str,
        *,
        parent: Sequence[str] = (),
        max_len: int | None = None,
    ) -> str | None:
        """The string at ``key`` if present, non-null and valid (problems are recorded)."""
        if mapping.get(key) is None:
            return None
        return self.string([*parent, key], mapping[key], max_len=max_len)

    def choice(
        self,
        out: dict[str, Any],
        parts: Sequence[str],
        value: str,
        shown: str,
        options: Sequence[str],
        what: str,
    ) -> None:
        """Store ``value`` in ``out`` if it is one of ``options``, else record an error."""
        if value in options:
            out[parts[-1]] = value
        else:
            hint = _did_you_mean(value, options) or f"one of: {', '.join(options)}"
            self.error(parts, f"{shown!r} is not {what}", hint)

    def string_list(
        self, parts: Sequence[str | int], value: Any, *, allow_scalar: bool = False, example: str
    ) -> list[tuple[int, str]]:
        if allow_scalar and isinstance(value, str):
            return [(-1, value)] if self.string(parts, value) is not None else []
        if not isinstance(value, list):
            self.error(parts, f"must be a list, got {_type_name(value)}", f"e.g. {example}")
            return []
        out = []
        for i, item in enumerate(value):
            s = self.string([*parts, i], item)
            if s is not None:
                out.append((i, s))
        return out


def _check_cron(expr: str) -> str | None:
    fields = expr.split()
    if len(fields) != 5:
        return (
            f"{expr!r} has {len(fields)} fields; "
            "a cron schedule has 5 (minute hour day month weekday)"
        )
    for text, (name, lo, hi, names) in zip(fields, _CRON_FIELDS, strict=True):
        for item in text.split(","):
            base, _, step = item.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                return f"{expr!r}: bad step {step!r} in the {name} field"
            if base == "*":
                continue
            for bound in base.split("-", 1):
                num = names.get(bound.upper()) if not bound.isdigit() else int(bound)
                if num is None or not (lo <= num <= hi or (name == "day of week" and num == 7)):
                    return f"{expr!r}: {bound!r} is not a valid {name} ({lo}-{hi})"
    minute = fields[0]
    if minute == "*" or (minute.startswith("*/") and minute[2:].isdigit() and int(minute[2:]) < 5):
        return f"{expr!r} runs more often than every 5 minutes, which GitHub Actions does not allow"
    return None


def _check(checker: _Checker, doc: Any) -> dict[str, Any]:
    """Validate ``doc`` and return it as plain data ready for msgspec (only when no errors)."""
    c = checker
    top = c.mapping([], doc, _TOP_FIELDS, _REQUIRED)
    if top is None:
        return {}
    out: dict[str, Any] = {}

    if "id" in top and (s := c.string(["id"], top["id"])) is not None:
        try:
            out["id"] = str(DatasetId.parse(s))
        except InvalidDatasetId as exc:
            c.error(["id"], exc.rule, "IDs look like 'namespace/name', e.g. 'ecb/euro-fx-rates'")
    if "title" in top and (s := c.string(["title"], top["title"], max_len=200)) is not None:
        if "\n" in s.strip():
            c.error(["title"], "must be a single line", "put longer text in 'description'")
        out["title"] = s.strip()
    if "description" in top and (s := c.string(["description"], top["description"])) is not None:
        out["description"] = s
    if "license" in top and (s := c.string(["license"], top["license"])) is not None:
        out["license"] = s
        if (w := check_license(s)) is not None:
            c.warn(["license"], w)
    if "repo" in top and (s := c.string(["repo"], top["repo"])) is not None:
        m = _GITHUB_REPO_RE.fullmatch(s)
        owner = None
        if m:
            try:
                owner = validate_github_owner(m["owner"], what="repository owner")
                out["repo"] = f"https://github.com/{m['owner']}/{m['repo']}"
            except ValueError as exc:
                c.error(["repo"], str(exc))
        else:
            ssh = _SSH_REPO_RE.fullmatch(s)
            http = s.replace("http://", "https://", 1).replace("://www.github.com", "://github.com")
            if ssh:
                hint = f"did you mean 'https://github.com/{ssh[1]}/{ssh[2]}'?"
            elif _GITHUB_REPO_RE.fullmatch(http):
                hint = f"did you mean {http.rstrip('/')!r}?"
            else:
                hint = "use the repository's web address, e.g. 'https://github.com/owner/repo'"
            c.error(["repo"], f"{s!r} is not a GitHub repository URL", hint)
        if owner and "id" in out and owner != DatasetId.parse(out["id"]).namespace:
            c.warn(
                ["repo"],
                f"repository owner {owner!r} differs from the id's namespace "
                f"{DatasetId.parse(out['id']).namespace!r}",
                "the namespace is normally the GitHub owner; the registry may refuse a mismatch",
            )
    if (
        "source" in top
        and (src := c.mapping(["source"], top["source"], _SOURCE_FIELDS, ("provider",))) is not None
    ):
        o: dict[str, Any] = {}
        if (
            "provider" in src
            and (s := c.string(["source", "provider"], src["provider"])) is not None
        ):
            o["provider"] = s
        for k in ("homepage", "dataset"):
            if (
                k in src
                and src[k] is not None
                and (s := c.string(["source", k], src[k])) is not None
            ):
                if _URL_RE.fullmatch(s):
                    o[k] = s
                else:
                    c.error(
                        ["source", k],
                        f"{s!r} is not an http(s) URL",
                        "e.g. 'https://www.ecb.europa.eu/'",
                    )
        out["source"] = o
    if "topics" in top:
        items = c.string_list(["topics"], top["topics"], example="[finance, exchange-rates]")
        seen: set[str] = set()
        for i, t in items:
            if len(t) > 50:
                c.error(["topics", i], f"{t!r} is longer than 50 characters")
            elif t.lower() in seen:
                c.warn(["topics", i], f"duplicate topic {t!r}")
            seen.add(t.lower())
        out["topics"] = [t for _, t in items]
    if (
        "geo" in top
        and top["geo"] is not None
        and (geo := c.mapping(["geo"], top["geo"], _GEO_FIELDS)) is not None
    ):
        g: dict[str, Any] = {}
        if (s := c.optional_string(geo, "scope", parent=["geo"])) is not None:
            c.choice(g, ["geo", "scope"], s, s, GEO_SCOPES, "a geographic scope")
        if "countries" in geo:
            codes = []
            for i, code in c.string_list(
                ["geo", "countries"], geo["countries"], example="[US, DE]"
            ):
                if (msg := check_country(code)) is not None:
                    main, _, rest = msg.partition(" (")
                    c.error(["geo", "countries", i], main, rest.rstrip(")") or None)
                else:
                    codes.append(code)
            g["countries"] = codes
            if g.get("scope") == "country" and len(geo["countries"] or []) != 1:
                c.error(
                    ["geo", "countries"],
                    "scope 'country' needs exactly one country",
                    "use scope 'multi' for several",
                )
        if g.get("scope") == "country" and "countries" not in geo:
            c.error(["geo"], "scope 'country' needs exactly one country", "add countries: [XX]")
        if "regions" in geo:
            g["regions"] = [
                s
                for _, s in c.string_list(["geo", "regions"], geo["regions"], example="[Euro area]")
            ]
        out["geo"] = g
    if "owners" in top:
        owners = []
        for i, h in c.string_list(["owners"], top["owners"], example="[octocat]"):
            try:
                owners.append(validate_github_owner(h, what="GitHub handle"))
            except ValueError as exc:
                fix = f"write it without the '@': {h[1:]!r}" if h.startswith("@") else None
                c.error(["owners", i], str(exc), fix)
        out["owners"] = owners
    if (s := c.optional_string(top, "frequency")) is not None:
        c.choice(out, ["frequency"], s.lower(), s, FREQUENCIES, "a known frequency")
    if (s := c.optional_string(top, "time_column", max_len=_COLUMN_MAX)) is not None:
        out["time_column"] = s
    if (s := c.optional_string(top, "schedule")) is not None:
        if (msg := _check_cron(s)) is not None:
            c.error(["schedule"], msg, "e.g. '30 6 * * *' for 06:30 UTC daily")
        else:
            out["schedule"] = s
    if (s := c.optional_string(top, "partition")) is not None:
        c.choice(out, ["partition"], s, s, PARTITIONS, "a partitioning")
    if "primary_key" in top and top["primary_key"] is not None:
        keys = c.string_list(
            ["primary_key"], top["primary_key"], allow_scalar=True, example="[date, symbol]"
        )
        names = [k for _, k in keys]
        if len(set(names)) != len(names):
            c.error(["primary_key"], "lists a column twice")
        out["primary_key"] = names
    if "runner" in top and top["runner"] is not None:
        labels = []
        for i, lab in c.string_list(
            ["runner"], top["runner"], allow_scalar=True, example="[self-hosted, linux]"
        ):
            if _LABEL_RE.fullmatch(lab):
                labels.append(lab)
            else:
                c.error(
                    ["runner"] if i < 0 else ["runner", i],
                    f"{lab!r} is not a runner label",
                    "labels are letters, digits, '-', '_', '.', ':' and '/'",
                )
        out["runner"] = labels
    if "retention" in top and top["retention"] is not None:
        _check_retention(c, top["retention"], out)
    return out


def _check_retention(c: _Checker, value: Any, out: dict[str, Any]) -> None:
    """``retention: all``, or a mapping of ``keep_versions``, ``keep_days`` and ``keep_all``."""
    example = "e.g. 'retention: all' or 'retention: {keep_versions: 30, keep_days: 365}'"
    if isinstance(value, str):
        if value.strip().lower() == "all":
            out["retention"] = {"keep_all": True}
        else:
            c.error(["retention"], f"{value!r} is not a retention policy", example)
        return
    if not isinstance(value, Mapping):
        c.error(["retention"], f"must be 'all' or a mapping, got {_type_name(value)}", example)
        return
    fields = c.mapping(["retention"], value, _RETENTION_FIELDS)
    if fields is None:
        return
    policy: dict[str, Any] = {}
    if "keep_all" in fields:
        if isinstance(fields["keep_all"], bool):
            policy["keep_all"] = fields["keep_all"]
        else:
            got = _type_name(fields["keep_all"])
            c.error(["retention", "keep_all"], f"must be true or false, got {got}", example)
    for key, least in (("keep_versions", 1), ("keep_days", 0)):
        if key not in fields:
            continue
        number = fields[key]
        if isinstance(number, bool) or not isinstance(number, int):
            c.error(
                ["retention", key], f"must be a whole number, got {_type_name(number)}", example
            )
        elif number < least:
            c.error(["retention", key], f"must be at least {least}, got {number}", example)
        else:
            policy[key] = number
    out["retention"] = policy


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _yaml() -> YAML:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _parse_text(text: str, display: str) -> tuple[Any, list[Problem]]:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return _yaml().load(text), []
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        what = exc.problem or exc.context or "invalid YAML"
        return None, [
            Problem(
                path=display,
                line=line,
                column=col,
                field="",
                message=f"invalid YAML: {what}",
                hint="check the indentation and quoting on this line",
            )
        ]
    except YAMLError as exc:
        return None, [
            Problem(path=display, line=None, column=None, field="", message=f"invalid YAML: {exc}")
        ]
    except RecursionError:
        return None, [
            Problem(
                path=display,
                line=None,
                column=None,
                field="",
                message="invalid YAML: lists or mappings are nested too deeply to read",
                hint="opendata.yaml needs only a few levels of nesting; remove the deep structure",
            )
        ]


def _report_from_text(text: str, display: str) -> MetadataReport:
    doc, problems = _parse_text(text, display)
    if problems:
        return MetadataReport(display, None, errors=problems)
    if doc is None:
        return MetadataReport(
            display,
            None,
            errors=[
                Problem(
                    path=display,
                    line=1,
                    column=1,
                    field="",
                    message="the file is empty",
                    hint="run `od init` to write a commented template",
                )
            ],
        )
    checker = _Checker(display, doc)
    data = _check(checker, doc)
    meta = None
    if not checker.errors:
        meta = msgspec.convert(_plain(data), DatasetMetadata)
    return MetadataReport(display, meta, errors=checker.errors, warnings=checker.warnings)


def check_metadata(path: str | os.PathLike[str]) -> MetadataReport:
    """Check an ``opendata.yaml`` file and report every error and warning, without raising.

    A missing or unreadable file is reported as an error too.
    """
    display = os.fspath(path)

    def unreadable(message: str, hint: str | None = None) -> MetadataReport:
        problem = Problem(
            path=display, line=None, column=None, field="", message=message, hint=hint
        )
        return MetadataReport(display, None, errors=[problem])

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return unreadable("file not found", "run `od init` to create opendata.yaml")
    except (OSError, UnicodeDecodeError) as exc:
        return unreadable(f"cannot read the file: {exc}")
    return _report_from_text(text, display)


def _raise_or_warn(report: MetadataReport, stacklevel: int) -> DatasetMetadata:
    if report.errors:
        raise MetadataError(report.errors)
    for w in report.warnings:
        warnings.warn(str(w), MetadataWarning, stacklevel=stacklevel + 1)
    assert report.metadata is not None
    return report.metadata


def load_metadata(path: str | os.PathLike[str]) -> DatasetMetadata:
    """Load and validate an ``opendata.yaml`` file.

    Warnings (e.g. a licence that is not an SPDX identifier) are issued as
    :class:`MetadataWarning` through :mod:`warnings`; :func:`check_metadata` returns them as data.

    Raises:
        MetadataError: for the first error, with ``.path``, ``.line``, ``.column``, ``.field``;
            ``.problems`` lists them all.
    """
    return _raise_or_warn(check_metadata(path), stacklevel=2)


def validate_metadata(
    value: DatasetMetadata | Mapping[str, Any], *, source: str = "<metadata>"
) -> DatasetMetadata:
    """Validate metadata built in Python (a :class:`DatasetMetadata` or a plain mapping).

    Applies the same rules as :func:`load_metadata`; problems have no line numbers.

    Raises:
        MetadataError: if any rule fails.
    """
    data = msgspec.to_builtins(value) if isinstance(value, msgspec.Struct) else value
    if isinstance(data, Mapping):
        data = {k: v for k, v in data.items() if v not in (None, [])}
    checker = _Checker(source, data)
    out = _check(checker, data)
    report = MetadataReport(source, None, errors=checker.errors, warnings=checker.warnings)
    if not report.errors:
        report.metadata = msgspec.convert(_plain(out), DatasetMetadata)
    return _raise_or_warn(report, stacklevel=2)


def _set_path(doc: CommentedMap, dotted: str, value: Any) -> None:
    from ruamel.yaml.comments import CommentedMap

    parts = dotted.split(".")
    node = doc
    for p in parts[:-1]:
        if not isinstance(node.get(p), Mapping):
            node[p] = CommentedMap()
        node = node[p]
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


def _iter_updates(updates: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in updates.items():
        if key.split(".")[0] not in _TOP_FIELDS:
            hint = _did_you_mean(key.split(".")[0], _TOP_FIELDS)
            raise MetadataError(
                [
                    Problem(
                        path="<update>",
                        line=None,
                        column=None,
                        field=key,
                        message=f"unknown field {key!r}",
                        hint=hint,
                    )
                ]
            )
        yield key, value


def update_metadata(path: str | os.PathLike[str], updates: Mapping[str, Any]) -> DatasetMetadata:
    """Set fields of an ``opendata.yaml`` in place, keeping the user's comments and key order.

    Keys are dotted paths (``"source.homepage"``); a value of ``None`` removes the field. The
    result is validated before anything is written, and the file is replaced atomically, so a bad
    update leaves the file untouched.

    Example:
        >>> changes = {"title": "Euro FX rates", "geo.scope": "region"}
        >>> update_metadata("opendata.yaml", changes)  # doctest: +SKIP
    """
    target = Path(path)
    text = target.read_text(encoding="utf-8")
    doc, problems = _parse_text(text, os.fspath(path))
    if problems:
        raise MetadataError(problems)
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(doc, CommentedMap):
        doc = CommentedMap()
    for key, value in _iter_updates(updates):
        _set_path(doc, key, value)
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    new_text = buf.getvalue()
    meta = _raise_or_warn(_report_from_text(new_text, os.fspath(path)), stacklevel=2)
    write_atomic(target, new_text)
    return meta

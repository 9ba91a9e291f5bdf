"""The ``opendata.yaml`` checker: one validator per field, findings with their positions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal

import msgspec

from opendata_core._cron import check_cron
from opendata_core._findings import Finding
from opendata_core._reference import check_country, check_license
from opendata_core._schema import (
    FREQUENCIES,
    GEO_SCOPES,
    PARTITIONS,
    DatasetMetadata,
    Deprecation,
    Geo,
    Retention,
    Source,
)
from opendata_core.errors import InvalidDatasetId
from opendata_core.ids import DatasetId, validate_github_owner

_REQUIRED: Final = ("id", "title", "description", "license", "repo", "source")
TOP_FIELDS: Final = tuple(f.name for f in msgspec.structs.fields(DatasetMetadata))
_SOURCE_FIELDS: Final = tuple(f.name for f in msgspec.structs.fields(Source))
_GEO_FIELDS: Final = tuple(f.name for f in msgspec.structs.fields(Geo))
_RETENTION_FIELDS: Final = tuple(f.name for f in msgspec.structs.fields(Retention))
_DEPRECATION_FIELDS: Final = tuple(f.name for f in msgspec.structs.fields(Deprecation))
DEPRECATION_MESSAGE_MAX: Final = 500
"""The longest ``deprecated.message``, in characters (readers see it in every warning)."""
_GITHUB_REPO_RE: Final = re.compile(
    r"https://github\.com/(?P<owner>[^/\s]+)/(?P<repo>[A-Za-z0-9._-]{1,100}?)(?:\.git)?/?"
)
_SSH_REPO_RE: Final = re.compile(
    r"(?:git@|ssh://git@)github\.com[:/]([^/\s]+)/([^/\s]+?)(?:\.git)?"
)
_URL_RE: Final = re.compile(r"https?://[^\s/$.?#][^\s]*")
_LABEL_RE: Final = re.compile(r"[A-Za-z0-9._:/-]{1,100}")
_COLUMN_MAX: Final = 255


_EXAMPLES: Final = {
    "id": ("id: <owner>/<name>", ", the owner being your GitHub user or organisation"),
    "title": ("title: <one line shown in search results>", ""),
    "description": ("description: <what one row is, the columns, the coverage>", ""),
    "license": (
        "license: CC-BY-4.0",
        ", or the source's own terms as an SPDX id from https://spdx.org/licenses/",
    ),
    "repo": ("repo: https://github.com/<owner>/<repository>", ""),
    "source": ("source:", " with `provider: <who publishes the original data>` under it"),
    "source.provider": ("provider: <who publishes the original data>", " under `source:`"),
}
"""An example line for each required field: the fix when it is missing or empty."""


def _fix(field: str, verb: str) -> str | None:
    if field not in _EXAMPLES:
        return None
    line, note = _EXAMPLES[field]
    return f"{verb} `{line}`{note}"


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


def did_you_mean(value: str, options: Sequence[str]) -> str | None:
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


class Checker:
    """Walks a YAML document, collecting findings with their positions."""

    def __init__(self, path: str, root: Any) -> None:
        self.path = path
        self.root = root
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []

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
                    # An empty value has no position of its own (ruamel gives the next
                    # token's): point at its key, on its own line.
                    at_key = last and (key or node[part] is None)
                    pos = node.lc.key(part) if at_key else node.lc.value(part)
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
        finding = Finding(
            path=self.path,
            line=line,
            column=column,
            field=_fmt_path(parts),
            message=message,
            hint=hint,
            severity=severity,
        )
        (self.errors if severity == "error" else self.warnings).append(finding)

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
                hint = did_you_mean(str(k), allowed) if isinstance(k, str) else None
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
                    _fix(_fmt_path([*parts, r]), "add"),
                )
        return {k: v for k, v in value.items() if isinstance(k, str) and k in allowed}

    def string(
        self, parts: Sequence[str | int], value: Any, *, max_len: int | None = None
    ) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            self.error(parts, "must not be empty", _fix(_fmt_path(parts), "write"))
            return None
        if not isinstance(value, str):
            example = f' (quote it: "{value}")' if isinstance(value, int | float | bool) else ""
            self.error(parts, f"must be a string, got {_type_name(value)}{example}")
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
        """The string at ``key`` if present, non-null and valid (findings are recorded)."""
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
            hint = did_you_mean(value, options) or f"one of: {', '.join(options)}"
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


_Validator = Callable[[Checker, dict[str, Any], dict[str, Any]], None]


def check_document(checker: Checker, doc: Any) -> dict[str, Any]:
    """Validate ``doc`` and return it as plain data ready for msgspec (only when no errors)."""
    top = checker.mapping([], doc, TOP_FIELDS, _REQUIRED)
    if top is None:
        return {}
    out: dict[str, Any] = {}
    for validate in _VALIDATORS:
        validate(checker, top, out)
    return out


def _check_id(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    if "id" in top and (s := c.string(["id"], top["id"])) is not None:
        try:
            out["id"] = str(DatasetId.parse(s))
        except InvalidDatasetId as exc:
            c.error(["id"], exc.rule, "IDs look like 'namespace/name', e.g. 'ecb/euro-fx-rates'")


TITLE_MAX: Final = 200
"""The longest ``title``, in characters."""


def check_title(value: str) -> str:
    """``value`` stripped, if it is a valid ``title``: one line of at most :data:`TITLE_MAX`.

    Raises:
        ValueError: saying what is wrong (``"must be a single line"``, ...).
    """
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if "\n" in value or "\r" in value:
        raise ValueError("must be a single line")
    if len(value) > TITLE_MAX:
        raise ValueError(f"is {len(value)} characters long; the limit is {TITLE_MAX}")
    return value


def _check_title(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    if "title" in top and (s := c.string(["title"], top["title"])) is not None:
        try:
            out["title"] = check_title(s)
        except ValueError as exc:
            c.error(["title"], str(exc), "put longer text in 'description'")


def _check_description(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    if "description" in top and (s := c.string(["description"], top["description"])) is not None:
        out["description"] = s


def _check_license(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    if "license" in top and (s := c.string(["license"], top["license"])) is not None:
        out["license"] = s
        if (w := check_license(s)) is not None:
            c.warn(["license"], w)


def _check_repo(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    """Runs after :func:`_check_id`: it compares the repository owner with the namespace."""
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


def _check_source(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
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


def _check_topics(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
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


def _check_geo(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
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


def _check_owners(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    if "owners" in top:
        owners = []
        for i, h in c.string_list(["owners"], top["owners"], example="[octocat]"):
            try:
                owners.append(validate_github_owner(h, what="GitHub handle"))
            except ValueError as exc:
                fix = f"write it without the '@': {h[1:]!r}" if h.startswith("@") else None
                c.error(["owners", i], str(exc), fix)
        out["owners"] = owners


def _check_frequency(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    if (s := c.optional_string(top, "frequency")) is not None:
        c.choice(out, ["frequency"], s.lower(), s, FREQUENCIES, "a known frequency")


def _check_time_column(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    if (s := c.optional_string(top, "time_column", max_len=_COLUMN_MAX)) is not None:
        out["time_column"] = s


def _check_schedule(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    if (s := c.optional_string(top, "schedule")) is not None:
        if (msg := check_cron(s)) is not None:
            c.error(["schedule"], msg, "e.g. '30 6 * * *' for 06:30 UTC daily")
        else:
            out["schedule"] = s


def _check_partition(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    if (s := c.optional_string(top, "partition")) is not None:
        c.choice(out, ["partition"], s, s, PARTITIONS, "a partitioning")


def _check_primary_key(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    if "primary_key" in top and top["primary_key"] is not None:
        keys = c.string_list(
            ["primary_key"], top["primary_key"], allow_scalar=True, example="[date, symbol]"
        )
        names = [k for _, k in keys]
        if len(set(names)) != len(names):
            c.error(["primary_key"], "lists a column twice")
        out["primary_key"] = names


def _check_runner(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
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


_REGISTRY_RE: Final = re.compile(
    r"(?:https://[A-Za-z0-9.-]+|http://(?:localhost|127\.0\.0\.1|\[::1\]))(?::\d{1,5})?"
    r"(?:/[A-Za-z0-9._~/-]*)?"
)


def check_registry_url(value: str) -> str:
    """``value`` without a trailing ``/``, if it is a registry URL ``od deploy`` may write.

    ``https://host[:port][/path]``; plain ``http`` only for this machine (a registry a test or
    ``od demo`` runs). The characters allowed are those that need no quoting in a workflow.

    Example:
        >>> check_registry_url("https://registry.example.org/")
        'https://registry.example.org'

    Raises:
        ValueError: saying what is wrong.
    """
    value = value.strip()
    if not _REGISTRY_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a registry URL (https://host[:port][/path]; plain http only for "
            "localhost)"
        )
    return value.rstrip("/") or value


def _check_registry(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    if (s := c.optional_string(top, "registry")) is not None:
        try:
            out["registry"] = check_registry_url(s)
        except ValueError as exc:
            c.error(["registry"], str(exc), "e.g. 'https://registry.example.org'")


def _check_retention_field(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    if "retention" in top and top["retention"] is not None:
        _check_retention(c, top["retention"], out)


def _check_deprecated(c: Checker, top: dict[str, Any], out: dict[str, Any]) -> None:
    """``deprecated: {message, successor}``; runs after :func:`_check_id` (no self-successor)."""
    if "deprecated" not in top or top["deprecated"] is None:
        return
    example = "e.g. 'deprecated: {message: Use ecb/fx-v2 instead., successor: ecb/fx-v2}'"
    fields = c.mapping(["deprecated"], top["deprecated"], _DEPRECATION_FIELDS, ("message",))
    if fields is None:
        return
    d: dict[str, Any] = {}
    if "message" in fields:
        s = c.string(["deprecated", "message"], fields["message"], max_len=DEPRECATION_MESSAGE_MAX)
        if s is not None:
            d["message"] = s.strip()
    if (s := c.optional_string(fields, "successor", parent=["deprecated"])) is not None:
        try:
            successor = str(DatasetId.parse(s))
        except InvalidDatasetId as exc:
            c.error(["deprecated", "successor"], exc.rule, example)
        else:
            if successor == out.get("id"):
                c.error(
                    ["deprecated", "successor"],
                    f"{s!r} is this dataset's own id",
                    "name the dataset that replaces it, or leave successor out",
                )
            else:
                d["successor"] = successor
    out["deprecated"] = d


_VALIDATORS: Final[tuple[_Validator, ...]] = (
    _check_id,
    _check_title,
    _check_description,
    _check_license,
    _check_repo,
    _check_source,
    _check_topics,
    _check_geo,
    _check_owners,
    _check_frequency,
    _check_time_column,
    _check_schedule,
    _check_partition,
    _check_primary_key,
    _check_runner,
    _check_retention_field,
    _check_deprecated,
    _check_registry,
)
"""One per top-level field, in file order (``repo`` needs the checked ``id``)."""


def _check_retention(c: Checker, value: Any, out: dict[str, Any]) -> None:
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

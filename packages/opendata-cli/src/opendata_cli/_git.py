"""Small, read-only questions to git: where is the repository, what is its GitHub ``origin``.

Every function answers ``None`` when git is missing, the folder is not in a repository or the
remote is not on GitHub: the callers fall back to defaults rather than fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["GitHubRepo", "github_origin", "parse_github_url", "remote_url", "toplevel"]

_TIMEOUT: Final = 5.0
_GITHUB_URL_RE: Final = re.compile(
    r"""
    (?:https?://(?:[^@/\s]+@)?(?:www\.)?github\.com/   # https://[user@]github.com/
      |ssh://git@github\.com(?::\d+)?/                  # ssh://git@github.com[:22]/
      |git@github\.com:                                 # git@github.com:
      |git://github\.com/)
    (?P<owner>[A-Za-z0-9-]{1,39})/
    (?P<repo>[A-Za-z0-9._-]{1,100}?)
    (?:\.git)?/?
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class GitHubRepo:
    """A repository on github.com, spelled as its owner wrote it."""

    owner: str
    name: str

    @property
    def url(self) -> str:
        """The repository's web address, e.g. ``https://github.com/acme/widgets``."""
        return f"https://github.com/{self.owner}/{self.name}"


def parse_github_url(url: str) -> GitHubRepo | None:
    """Parse a GitHub remote URL in any of git's spellings.

    Example:
        >>> parse_github_url("git@github.com:Acme/Widgets.git")
        GitHubRepo(owner='Acme', name='Widgets')
        >>> parse_github_url("https://gitlab.com/acme/widgets") is None
        True
    """
    m = _GITHUB_URL_RE.fullmatch(url.strip())
    if m is None or m["repo"] in (".", ".."):
        return None
    return GitHubRepo(m["owner"], m["repo"])


def _git(cwd: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None or not cwd.is_dir():
        return None
    try:
        out = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
            [git, "-C", str(cwd), *args],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (``od init new-dir`` asks before creating)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def toplevel(path: Path) -> Path | None:
    """The root of the git work tree that contains ``path``, or ``None``."""
    out = _git(_existing(path), "rev-parse", "--show-toplevel")
    return Path(out).resolve() if out else None


def remote_url(path: Path) -> str | None:
    """The URL of the ``origin`` remote of the work tree containing ``path``, as configured."""
    return _git(_existing(path), "config", "--get", "remote.origin.url")


def github_origin(path: Path) -> GitHubRepo | None:
    """The GitHub repository of the ``origin`` remote of the work tree containing ``path``."""
    url = remote_url(path)
    return parse_github_url(url) if url else None

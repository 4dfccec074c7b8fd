"""Where the UI's "code reference" of an asset points: the local file, or the file in the
repository at the deployed commit.

A deployed image has no checkout: its source lives in site-packages, so a local path would show a
file the reader cannot open. The image sets CHURN_GIT_URL and CHURN_GIT_COMMIT (build arguments,
deploy/Dockerfile), and every asset then links to that commit's file and line. Dagster's
`link_code_references_to_git` knows GitHub and GitLab only; this project lives in Azure Repos.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

from dagster import LocalFileCodeReference, UrlCodeReference

from churn_assets.errors import SettingsError

GIT_URL, GIT_COMMIT = "CHURN_GIT_URL", "CHURN_GIT_COMMIT"
# The folder holding the package: the repository root in a checkout, site-packages in an image.
# The repository has churn_assets/ at its top, so paths below this folder are repository paths.
PACKAGE_PARENT = Path(__file__).resolve().parent.parent
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")


class CodeReferenceSettingsError(SettingsError):
    """CHURN_GIT_URL / CHURN_GIT_COMMIT set wrongly; the message says how."""


def repository_link() -> tuple[str, str] | None:
    """(git URL, commit) when the environment names both, None when it names neither."""
    url = (os.environ.get(GIT_URL) or "").strip().rstrip("/")
    commit = (os.environ.get(GIT_COMMIT) or "").strip().lower()
    if not url and not commit:
        return None
    if not url or not commit:
        missing = GIT_URL if not url else GIT_COMMIT
        raise CodeReferenceSettingsError(f"{missing} is not set: set both {GIT_URL} and {GIT_COMMIT}, or neither")
    if not _COMMIT.match(commit):
        raise CodeReferenceSettingsError(f"{GIT_COMMIT}={commit!r} is not a git commit (7 to 40 hex digits)")
    git_url(url, commit, "churn_assets/__init__.py", 1)  # refuses a host it cannot link to, at load
    return url, commit


def git_url(url: str, commit: str, path: str, line: int) -> str:
    """The web page of `path` at `commit`, scrolled to `line`, on Azure Repos, GitHub or GitLab."""
    if "dev.azure.com" in url or ".visualstudio.com" in url:
        return (
            f"{url}?path=/{quote(path)}&version=GC{commit}&line={line}&lineEnd={line}&lineStartColumn=1&lineEndColumn=1"
        )
    if "github" in url:
        return f"{url}/blob/{commit}/{quote(path)}#L{line}"
    if "gitlab" in url:
        return f"{url}/-/blob/{commit}/{quote(path)}#L{line}"
    raise CodeReferenceSettingsError(
        f"{GIT_URL}={url!r}: cannot link to this host (Azure Repos dev.azure.com, GitHub and GitLab are known)"
    )


def code_reference(file_path: str, line: int) -> LocalFileCodeReference | UrlCodeReference:
    """The reference the UI shows for code at `file_path`:`line`."""
    link = repository_link()
    if link is None:
        return LocalFileCodeReference(file_path=file_path, line_number=line)
    path = Path(file_path).resolve().relative_to(PACKAGE_PARENT).as_posix()
    return UrlCodeReference(url=git_url(*link, path, line), label=f"{path}:{line}")

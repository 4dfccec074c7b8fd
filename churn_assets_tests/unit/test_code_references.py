"""The UI's code references: local files in a checkout, the repository at the deployed commit in an image."""

import pytest
from dagster import LocalFileCodeReference, UrlCodeReference

from churn_assets import code_references
from churn_assets.code_references import CodeReferenceSettingsError, code_reference, git_url

COMMIT = "0123456789abcdef0123456789abcdef01234567"
MODEL_FILE = str(code_references.PACKAGE_PARENT / "churn_assets" / "assets" / "model.py")


def test_a_checkout_links_to_its_local_files(monkeypatch):
    monkeypatch.delenv("CHURN_GIT_URL", raising=False)
    monkeypatch.delenv("CHURN_GIT_COMMIT", raising=False)
    assert code_reference(MODEL_FILE, 12) == LocalFileCodeReference(file_path=MODEL_FILE, line_number=12)


def test_an_image_links_to_the_file_at_the_deployed_commit_in_azure_repos(monkeypatch):
    monkeypatch.setenv("CHURN_GIT_URL", "https://dev.azure.com/contoso/analytics/_git/churn_assets/")
    monkeypatch.setenv("CHURN_GIT_COMMIT", COMMIT)
    reference = code_reference(MODEL_FILE, 12)
    assert isinstance(reference, UrlCodeReference)
    assert reference.url == (
        "https://dev.azure.com/contoso/analytics/_git/churn_assets?path=/churn_assets/assets/model.py"
        f"&version=GC{COMMIT}&line=12&lineEnd=12&lineStartColumn=1&lineEndColumn=1"
    )
    assert reference.label == "churn_assets/assets/model.py:12"


def test_github_and_gitlab_links_pin_the_commit():
    assert git_url("https://github.com/o/r", COMMIT, "churn_assets/x.py", 3) == (
        f"https://github.com/o/r/blob/{COMMIT}/churn_assets/x.py#L3"
    )
    assert git_url("https://gitlab.com/o/r", COMMIT, "churn_assets/x.py", 3) == (
        f"https://gitlab.com/o/r/-/blob/{COMMIT}/churn_assets/x.py#L3"
    )


@pytest.mark.parametrize(
    "url, commit, message",
    [
        ("https://dev.azure.com/contoso/p/_git/r", "", "CHURN_GIT_COMMIT is not set"),
        ("", COMMIT, "CHURN_GIT_URL is not set"),
        ("https://dev.azure.com/contoso/p/_git/r", "main", "is not a git commit"),
        ("https://bitbucket.org/o/r", COMMIT, "cannot link to this host"),
    ],
)
def test_half_or_wrong_settings_are_refused_at_load(monkeypatch, url, commit, message):
    from churn_assets.environment import check_settings
    from churn_assets.errors import SettingsError

    monkeypatch.setenv("CHURN_GIT_URL", url)
    monkeypatch.setenv("CHURN_GIT_COMMIT", commit)
    with pytest.raises(CodeReferenceSettingsError, match=message):
        code_references.repository_link()
    with pytest.raises(SettingsError, match=message):
        check_settings()


def test_every_asset_of_a_deployed_image_links_to_the_repository(monkeypatch, tmp_path):
    from churn_assets.definitions import build_definitions
    from churn_assets_tests.support.pipeline import churn_home

    monkeypatch.setenv("CHURN_GIT_URL", "https://dev.azure.com/contoso/analytics/_git/churn_assets")
    monkeypatch.setenv("CHURN_GIT_COMMIT", COMMIT)
    with churn_home(tmp_path):
        defs = build_definitions()
    graph = defs.resolve_asset_graph()
    urls = []
    for key in graph.get_all_asset_keys():
        (reference,) = graph.get(key).metadata["dagster/code_references"].code_references
        urls.append(reference.url)
    assert urls and all(f"version=GC{COMMIT}" in url and "path=/churn_assets/assets/" in url for url in urls), urls

"""The README and docs send a reader only to files of the repository (issue 14): the policy
is ``docs/policy.md``, not a folder next to the checkout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vaxportal import ROOT

#: the helpers' guide describes the shared machine the worktrees live on, not the product
LOCAL = {"CONTRIBUTING-helpers.md"}
DOCS = [ROOT / "README.md",
        *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name not in LOCAL)]
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
PARENT_PATH = re.compile(r"(?<![\w.])\.\./[\w./-]+")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_point_only_inside_the_repository(doc: Path):
    text = doc.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        resolved = (doc.parent / target).resolve()
        if not resolved.is_relative_to(ROOT.resolve()) or not resolved.exists():
            broken.append(target)
    for path in PARENT_PATH.findall(text):
        resolved = (doc.parent / path).resolve()
        if not resolved.is_relative_to(ROOT.resolve()) or not resolved.exists():
            broken.append(path)
    assert not broken, f"{doc.name} points outside the repository or nowhere: {broken}"


def test_the_policy_names_its_source_and_every_clause():
    policy = (ROOT / "docs/policy.md").read_text(encoding="utf-8")
    assert "997/CNTT-DLYT" in policy and "Sở Y tế An Giang" in policy
    for clause in ("P1", "P2.1", "P2.2", "P2.3", "P2.4", "P3.1", "P3.2", "P3.3", "P3.4",
                   "P4.1", "P4.2", "P4.3a", "P4.3b", "P4.3c"):
        assert f"| {clause} |" in policy, clause

"""A complete data card for tests of user data: prepare refuses a file source without one."""

from __future__ import annotations

from pathlib import Path

import yaml

TEST_CARD = {
    "owner": "Test team",
    "contact": "tests@example.org",
    "licence": "proprietary",
    "source": "made up by the test",
    "allowed_uses": ["testing assayml"],
    "forbidden_uses": [],
    "personal_data": False,
    "retention": "until the test ends",
    "access": ["tests"],
}


def fill_file_card(conf: Path) -> None:
    """Give ``conf/data/file.yaml`` (null fields, as shipped) the test card."""
    path = conf / "data" / "file.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["card"] = dict(TEST_CARD)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))

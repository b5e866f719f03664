"""A program version's reference is its name and content (``models.rulebook``)."""

from __future__ import annotations

import pytest

from models import rulebook
from models.programs import load_programs


def test_a_reference_names_the_version_and_hashes_its_content() -> None:
    """The same content gives the same reference; any change of a rule gives another one."""
    version = load_programs().versions[0]
    again = version.model_validate(version.model_dump(mode="json"))
    edited = version.model_copy(update={"reminder_after_days": version.reminder_after_days + 1})
    assert rulebook.rules_ref(version) == rulebook.rules_ref(again)
    assert rulebook.rules_ref(version).startswith(f"{version.version}@")
    assert rulebook.rules_ref(edited) != rulebook.rules_ref(version)


def test_a_field_left_at_its_default_does_not_change_the_reference() -> None:
    """A field added with a default keeps every version already named by a running cycle."""
    version = load_programs().versions[0]
    field = "max_purchases_per_voucher"
    assert version.model_dump()[field] == type(version).model_fields[field].default
    explicit = version.model_validate({**version.model_dump(mode="json"), field: 200})
    assert rulebook.rules_ref(explicit) == rulebook.rules_ref(version)


def test_rules_not_installed_are_refused_by_name() -> None:
    """A reference this process never installed is an error naming it, never other rules."""
    version = load_programs().versions[0]
    unknown = version.model_copy(update={"title": "another title"})
    with pytest.raises(rulebook.UnknownRules, match=rulebook.rules_ref(unknown)):
        rulebook.resolve(rulebook.rules_ref(unknown))
    rulebook.install([version])
    assert rulebook.resolve(rulebook.rules_ref(version)) is version

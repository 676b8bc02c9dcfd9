from __future__ import annotations

from pathlib import Path

import yaml

from tests.test_cli import _run, cli_env  # noqa: F401

DEFINITION = """\
name: Note on P1
description: first
trigger:
  type: conditional
  on: [incident.priority_changed]
  condition: "incident.priority == 'P1'"
steps:
  - id: note
    action: fireline.add_note
    with: {content: "P1: {{ incident.title }}"}
"""


def test_workflows_apply_creates_then_updates_by_name_and_exports(
    cli_env: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    owner = _run(cli_env, "users", "create", "--email", "o@example.com", "--name", "O",
                 "--role", "owner")
    assert owner.returncode == 0, owner.stderr
    source = tmp_path / "wf.yaml"
    source.write_text(DEFINITION)
    first = _run(cli_env, "workflows", "apply", "-f", str(source))
    assert first.returncode == 0, first.stderr
    workflow_id = first.stdout.strip()
    source.write_text(DEFINITION.replace("description: first", "description: second"))
    second = _run(cli_env, "workflows", "apply", "-f", str(source))
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == workflow_id
    assert "version 2" in second.stderr

    exported = _run(cli_env, "workflows", "export", workflow_id)
    assert exported.returncode == 0, exported.stderr
    document = yaml.safe_load(exported.stdout)
    assert document["description"] == "second"
    assert document["steps"][0]["with"] == {"content": "P1: {{ incident.title }}"}
    assert document["trigger"]["on"] == ["incident.priority_changed"]


def test_workflows_apply_refuses_an_unknown_action(
    cli_env: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    _run(cli_env, "users", "create", "--email", "o@example.com", "--name", "O", "--role", "owner")
    source = tmp_path / "wf.yaml"
    source.write_text(DEFINITION.replace("fireline.add_note", "fireline.launch_rockets"))
    result = _run(cli_env, "workflows", "apply", "-f", str(source))
    assert result.returncode == 2
    assert "unknown action 'fireline.launch_rockets'" in result.stderr
    assert _run(cli_env, "workflows", "export").stdout == ""

"""``otelcol validate`` over every config in ``otel-collector/``, and the manifest's fit.

``validate`` unmarshals every component, runs its ``Validate()`` and checks the
pipeline wiring without starting anything, so it needs only the binary and
(dummy) values for the ``${env:...}`` keys.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ._collector import COLLECTOR_DIR, collector_configs, collector_env, run_collector_command

pytestmark = pytest.mark.collector

EXPECTED_CONFIGS = {
    "local.yaml",
    "datadog.yaml",
    "datadog-agent.yaml",
    "newrelic.yaml",
    "honeycomb.yaml",
    "prometheus.yaml",
}
SECTIONS = ("receivers", "processors", "exporters", "extensions", "connectors")


def _validate(binary: Path, config: Path, tmp_path: Path) -> tuple[int, str]:
    env = collector_env(
        {
            "GENESYS_PULSE_COLLECTOR_STORAGE": str(tmp_path / "queue"),
            "GENESYS_PULSE_COLLECTOR_FILE": str(tmp_path / "out.jsonl"),
        }
    )
    done = run_collector_command(binary, ["validate", f"--config={config}"], env)
    return done.returncode, done.stdout + done.stderr


def _component_types_in_config(text: str) -> dict[str, set[str]]:
    """Component types (``otlp_http`` of ``otlp_http/datadog``) defined per top-level section.

    A line-based reader, enough for the block-style YAML in ``otel-collector/``:
    a section is an unindented ``name:`` line, a component a key indented by
    exactly two spaces below it.
    """
    found: dict[str, set[str]] = {s: set() for s in SECTIONS}
    section: str | None = None
    for line in text.splitlines():
        top = re.match(r"^([a-z_]+):", line)
        if top:
            section = top.group(1) if top.group(1) in SECTIONS else None
            continue
        key = re.match(r"^  ([a-z0-9_]+)(?:/[A-Za-z0-9_.-]+)?:", line)
        if section is not None and key:
            found[section].add(key.group(1))
    return found


def _component_types_in_binary(components_output: str) -> dict[str, set[str]]:
    """Component types listed by ``otelcol components`` (YAML), per section."""
    found: dict[str, set[str]] = {s: set() for s in SECTIONS}
    section: str | None = None
    for line in components_output.splitlines():
        top = re.match(r"^([a-z_]+):", line)
        if top:
            section = top.group(1) if top.group(1) in SECTIONS else None
            continue
        name = re.match(r"^\s*-\s+name:\s*([A-Za-z0-9_]+)\s*$", line)
        if section is not None and name:
            found[section].add(name.group(1))
    return found


def test_all_expected_configs_exist() -> None:
    names = {p.name for p in collector_configs()}
    assert names >= EXPECTED_CONFIGS, f"missing configs: {EXPECTED_CONFIGS - names}"


@pytest.mark.parametrize("config", collector_configs(), ids=lambda p: p.name)
def test_validate_passes(collector_binary: Path, config: Path, tmp_path: Path) -> None:
    rc, output = _validate(collector_binary, config, tmp_path)
    assert rc == 0, f"otelcol validate --config={config.name} failed:\n{output}"


def test_validate_rejects_broken_wiring(collector_binary: Path, tmp_path: Path) -> None:
    """The check above has teeth: a pipeline naming an undefined exporter is refused."""
    text = (COLLECTOR_DIR / "local.yaml").read_text()
    broken_text = text.replace("exporters: [debug, file]", "exporters: [debug, file/missing]", 1)
    assert broken_text != text
    broken = tmp_path / "broken.yaml"
    broken.write_text(broken_text)
    rc, output = _validate(collector_binary, broken, tmp_path)
    assert rc != 0
    assert "file/missing" in output


def test_binary_holds_exactly_the_components_the_configs_use(collector_binary: Path) -> None:
    done = run_collector_command(collector_binary, ["components"], collector_env({}))
    assert done.returncode == 0, done.stderr
    in_binary = _component_types_in_binary(done.stdout)

    used: dict[str, set[str]] = {s: set() for s in SECTIONS}
    for config in collector_configs():
        for section, types in _component_types_in_config(config.read_text()).items():
            used[section] |= types

    assert used["receivers"], "the config reader found nothing; has the YAML style changed?"
    assert in_binary == used


@pytest.mark.parametrize("config", collector_configs(), ids=lambda p: p.name)
def test_memory_limiter_first_and_no_batch_processor(config: Path) -> None:
    """Batching lives in the exporters' persistent sending_queue, never in front of it."""
    text = config.read_text()
    pipelines = re.findall(r"^\s+processors: \[([^\]]*)\]", text, flags=re.M)
    assert pipelines, f"{config.name}: no pipeline found"
    for processors in pipelines:
        assert processors.split(",")[0].strip() == "memory_limiter", processors
    assert "batch" not in _component_types_in_config(text)["processors"]
    # Every exporter with a sending_queue keeps it on disk and batches in it.
    queues = re.findall(r"^    sending_queue:\n((?:      .*\n)+)", text, flags=re.M)
    if config.name != "prometheus.yaml":  # Prometheus pulls: no queue
        assert queues, f"{config.name}: no sending_queue found"
    for queue in queues:
        assert "storage: file_storage" in queue, queue
        assert re.search(r"^      batch:\n        flush_timeout:", queue, flags=re.M), queue

"""The Dockerfile's rules, read statically: no test here builds or runs an image (no Docker daemon
is assumed, and the base image cannot be pulled offline)."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|cc|make|build-essential|python3?-dev|libpq-dev|apt-get|apk)\b")


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.instructions if i == instruction]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuation lines joined and comments dropped."""
    logical, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(words[0], name))
        elif not stages:
            assert instruction == "ARG", f"{instruction} before the first FROM"
            key, _, default = rest.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append((instruction, rest))
    return global_args, stages


def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse((ROOT / "Dockerfile").read_text())


def final() -> Stage:
    return dockerfile()[1][-1]


def test_is_multi_stage_on_slim_python_3_11() -> None:
    args, stages = dockerfile()
    assert len(stages) >= 2
    for stage in stages:
        base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], stage.base)
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", base), base
    final_stage = stages[-1]
    copied_from = {a.split()[0].removeprefix("--from=") for a in final_stage.args("COPY") if "--from=" in a}
    assert copied_from == {stages[0].name}, "the runtime takes the dependencies from the build stage"


def test_final_stage_runs_as_the_manifests_non_root_user() -> None:
    (user,) = final().args("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit()  # numeric, so runAsNonRoot can verify it
    assert gid.isdigit()
    assert int(uid) != 0
    assert int(gid) != 0
    # ...and it is the uid the manifests run as.
    docs = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "ingest.yaml").read_text())
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    ctx = deployment["spec"]["template"]["spec"]["securityContext"]
    assert (ctx["runAsUser"], ctx["runAsGroup"]) == (int(uid), int(gid))
    # USER comes after the last RUN: nothing in the image runs as root once it is set.
    kinds = [i for i, _ in final().instructions]
    assert max(i for i, k in enumerate(kinds) if k == "RUN") < kinds.index("USER")


def test_no_build_tools_or_pip_in_the_final_stage() -> None:
    for command in final().args("RUN"):
        assert not BUILD_TOOLS.search(command), command
        assert "pip" not in command, command
    # Nothing is compiled in the build stage either: wheels only, no pip cache kept.
    (install,) = [c for c in dockerfile()[1][0].args("RUN") if "pip install" in c]
    assert "--only-binary=:all:" in install
    assert "--no-cache-dir" in install
    assert not BUILD_TOOLS.search(install)


def test_dependencies_come_from_pyproject() -> None:
    (install,) = [c for c in dockerfile()[1][0].args("RUN") if "pip install" in c]
    assert 'tomllib.load(open("/tmp/pyproject.toml", "rb"))["project"]["dependencies"]' in install
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def test_the_code_and_generated_stubs_are_on_pythonpath() -> None:
    env = " ".join(final().args("ENV"))
    assert "PYTHONPATH=/app/gen:/app" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # the root filesystem is read-only
    copied = {shlex.split(a)[-2] for a in final().args("COPY") if "--from=" not in a}
    assert copied == {"gen/", "shared/", "services/", "cli/"}
    for path in copied:
        assert (ROOT / path).is_dir(), path


def test_the_manifests_choose_the_process() -> None:
    # No ENTRYPOINT: a container's `args` are the whole command, as deploy/k8s writes them.
    assert not final().args("ENTRYPOINT")
    # Kubernetes probes the gRPC health service; a Docker HEALTHCHECK would be ignored there.
    assert not final().args("HEALTHCHECK")


def test_dockerignore_sends_only_what_the_image_copies() -> None:
    lines = [ln for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "*"
    allowed = {ln.removeprefix("!") for ln in lines if ln.startswith("!")}
    assert allowed == {"pyproject.toml", "gen/", "shared/", "services/", "cli/"}

"""Every recipe of the cookbook, rewritten for tenax (`examples/`), runs against tenax-chaos."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parents[1] / "examples").glob("[0-9][0-9]_*.py"))


def test_every_recipe_has_an_example():
    numbers = {p.name[:2] for p in EXAMPLES}
    assert numbers == {f"{n:02}" for n in range(1, 17)}, sorted(numbers)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_example_runs(chaos, example):
    env = dict(os.environ, TENAX_CHAOS_URL=chaos.base, TENAX_CHAOS_BLACKHOLE=chaos.blackhole)
    out = subprocess.run(
        [sys.executable, str(example)],
        cwd=example.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip(), "the example says what it showed"

"""`leadengine bench` with no target parses into the headline bench's options."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import _bench_options, build_parser


def test_no_target_is_the_headline_bench_with_its_defaults() -> None:
    argv = ["bench", "--leads", "1000000", "--json", "out.json"]
    opts = _bench_options(build_parser().parse_args(argv), argv)
    assert (opts.leads, opts.agents, opts.concurrency, opts.duration_s, opts.rate) == (
        1_000_000,
        1000,
        1,
        10.0,
        250.0,
    )
    assert opts.json_path == Path("out.json")
    assert opts.scenarios == ()
    assert (opts.growth, opts.own_mesh, opts.reseed) == (False, False, False)
    assert opts.command == "leadengine bench --leads 1000000 --json out.json"


def test_scenarios_are_chosen_by_their_json_names() -> None:
    argv = ["bench", "--scenario", "route_lead", "--scenario", "baseline", "--growth", "--concurrency", "8"]
    opts = _bench_options(build_parser().parse_args(argv), argv)
    assert opts.scenarios == ("route_lead", "baseline")
    assert (opts.growth, opts.concurrency) == (True, 8)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "--scenario", "everything"])

"""Several processes changing the registry at once: one winner per alias, one linear chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

from test_registry import register, set_config

import mlops_nb as mlops

WORKER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    import mlops_nb as mlops

    mlops.models()  # import everything and open the store before the start signal
    go = Path(sys.argv[1])
    Path(f"{go}.{os.getpid()}.ready").touch()
    while not go.exists():
        time.sleep(0.005)
    outcome = []
    for version in sys.argv[3:]:
        try:
            result = mlops.promote("churn", int(version), to=sys.argv[2], reason="race")
        except mlops.PromotionRejected as exc:
            result = exc.result
        outcome.append(result.to_dict())
    print(json.dumps(outcome))
""")


def race(project, alias: str, *version_lists: list[int]) -> list[dict]:
    """Start one process per list of versions; release them together; gather results."""
    go = project.root / f"go-{alias}"
    script = project.root / "worker.py"
    script.write_text(WORKER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(go), alias, *map(str, versions)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        for versions in version_lists
    ]
    deadline = time.monotonic() + 120
    while len(list(project.root.glob(f"{go.name}.*.ready"))) < len(procs):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        results += json.loads(out)
    return results


def test_two_processes_promoting_at_once_exactly_one_wins(any_project):
    set_config(
        any_project,
        """
        promotion:
          production:
            require: ["beats: production on auc by >= 0.01"]
    """,
    )
    register(auc=0.9)
    register(seed=1, auc=0.9)
    results = race(any_project, "production", [1], [2])
    winners = [r for r in results if r["promoted"]]
    losers = [r for r in results if not r["promoted"]]
    assert len(winners) == 1 and len(losers) == 1
    winner = winners[0]["version"]
    assert losers[0]["checks"][0]["observed"] == f"0.9 vs 0.9 (churn@{winner}): +0"
    trail = mlops.audit("churn")
    moves = trail[trail["action"].isin(["promote", "reject"])]
    assert sorted(moves["action"]) == ["promote", "reject"]  # both recorded
    assert int(moves[moves["action"] == "promote"]["details"].iloc[0]["version"]) == winner
    assert mlops.models("churn").set_index("version")["aliases"][winner] == ["production"]
    assert mlops.verify_audit()


def test_concurrent_promotions_without_gates_are_serialised(any_project):
    for seed in range(4):
        register(seed=seed)
    results = race(any_project, "staging", [1, 2], [3, 4])
    assert all(r["promoted"] for r in results)
    trail = mlops.audit("churn")
    moves = trail[trail["action"] == "promote"]
    assert len(moves) == 4
    # each move saw the one before it: the chain of "previous" versions is unbroken
    previous = [d["previous"] for d in moves["details"]]
    versions = [d["version"] for d in moves["details"]]
    assert previous == [None, *versions[:-1]]
    assert mlops.models("churn").set_index("version")["aliases"][versions[-1]] == ["staging"]
    assert list(mlops.audit()["seq"]) == list(range(1, 9))
    assert mlops.verify_audit()


def test_concurrent_registrations_get_distinct_versions(any_project):
    script = any_project.root / "register.py"
    script.write_text(
        textwrap.dedent("""
        import sys
        from pathlib import Path
        import mlops_nb as mlops
        for i in range(4):
            path = Path(sys.argv[1]) / f"weights-{sys.argv[2]}-{i}.bin"
            path.write_bytes(f"{sys.argv[2]}-{i}".encode())
            mlops.register_model(path, "shared")
    """)
    )
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(any_project.root), str(n)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    for proc in procs:
        assert proc.wait(timeout=180) == 0, proc.stderr.read()
    assert sorted(mlops.models("shared")["version"]) == list(range(1, 13))
    assert mlops.verify_audit().events_checked == 12

"""Data snapshots vs DVC and the physical floor, and DataFrame snapshots vs Parquet alone.

    python benchmarks/data.py                       # 1 GiB file, 5M x 10 frame
    python benchmarks/data.py --file-mib 256 --rows 1000000 --skip-dvc

File: ``dvc add`` (first, unchanged, after a 1 MiB in-place change) against ``snapshot`` on
the same file, and ``cp`` + ``sync`` of the same bytes (the floor: the bytes must be read and
written durably once). The file is aged (mtime an hour back) as a file made earlier would be.
DataFrame: ``snapshot`` (fingerprint + Parquet + profile) against ``to_parquet`` alone (with
an fsync, as snapshots are durable), an unchanged re-snapshot against the fingerprint alone,
and diffs of two versions with 1% of the rows changed. Also the hash candidates over the
same bytes (sha256 is the blob store's; blake3 shown for comparison).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024 * 1024


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def timed_cpu(fn):  # type: ignore[no-untyped-def]
    """(wall seconds, CPU seconds of the whole process, result)."""
    cpu = time.process_time()
    wall, result = timed(fn)
    return wall, time.process_time() - cpu, result


def row(label: str, seconds: float, note: str = "") -> None:
    print(f"  {label:<44} {seconds:8.3f} s  {note}")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def make_file(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        remaining = size
        block = os.urandom(64 * MIB)
        while remaining > 0:
            handle.write(block[: min(remaining, len(block))])
            remaining -= len(block)
            block = hashlib.sha512(block[:64]).digest() + block[64:]  # not a repeated block
        handle.flush()
        os.fsync(handle.fileno())
    past = time.time() - 3600
    os.utime(path, (past, past))


def hash_rates(path: Path) -> None:
    import blake3

    print("hash throughput over the file (page cache):")
    candidates = {
        "sha256 (hashlib/OpenSSL)": lambda: hashlib.sha256(),
        "blake3 (1 thread)": lambda: blake3.blake3(),
        "blake3 (all threads)": lambda: blake3.blake3(max_threads=blake3.blake3.AUTO),
        "md5 (DVC's)": lambda: hashlib.md5(),
    }
    size = path.stat().st_size
    for label, make in candidates.items():

        def run(make=make):  # type: ignore[no-untyped-def]
            hasher = make()
            with open(path, "rb") as handle:
                while chunk := handle.read(8 * MIB):
                    hasher.update(chunk)

        seconds, _ = timed(run)
        row(label, seconds, f"{size / seconds / 1e9:.2f} GB/s")


def modify_one_mib(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.seek(path.stat().st_size // 2)
        handle.write(os.urandom(MIB))
        handle.flush()
        os.fsync(handle.fileno())


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def dvc(workdir: Path, *args: str) -> float:
    seconds, proc = timed(
        lambda: subprocess.run(["dvc", *args], cwd=workdir, capture_output=True, text=True)
    )
    if proc.returncode:
        raise SystemExit(f"dvc {' '.join(args)} failed: {proc.stderr.strip()}")
    return seconds


def bench_file(root: Path, size: int, skip_dvc: bool) -> None:
    import mlops_nb as mlops

    print(f"\n== file of {size / MIB:.0f} MiB ==")
    # Each tool gets its own copy: dvc add rewrites the file's metadata (and so its ctime).
    dvc_dir, ours_dir = root / "dvc-repo", root / "ours"
    dvc_dir.mkdir()
    ours_dir.mkdir()
    data, theirs = ours_dir / "data.bin", dvc_dir / "data.bin"
    make_file(data, size)
    shutil.copyfile(data, theirs)
    shutil.copystat(data, theirs)
    hash_rates(data)

    def floor() -> tuple[float, float]:
        """(cp, cp + sync) to a new file, kept (like the tools' copies) until the end."""
        os.sync()
        cp, _ = timed(lambda: shutil.copyfile(data, root / f"floor-{time.perf_counter_ns()}"))
        sync, _ = timed(os.sync)
        return cp, cp + sync

    def first(label: str, fn) -> None:  # type: ignore[no-untyped-def]
        os.sync()  # nothing left to write back from the step before
        results[label]["first"], _ = timed(fn)

    # The floor is measured before and after the tools (each writes 1 GiB to new files, and
    # a VM takes memory it never used before slower than memory it got back), then averaged.
    floors = [floor()]
    results: dict[str, dict[str, float]] = {"dvc": {}, "mlops": {}}
    if not skip_dvc:
        subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=dvc_dir, check=True)
        first("dvc", lambda: dvc(dvc_dir, "add", "-q", theirs.name))
    first("mlops", lambda: mlops.snapshot(data, "big"))
    floors.append(floor())
    cp = sum(f[0] for f in floors) / len(floors)
    floor_s = sum(f[1] for f in floors) / len(floors)
    print("floor (mean of before and after the tools):")
    row("cp", cp, " ".join(f"{f[0]:.3f}" for f in floors))
    row("cp + sync", floor_s, " ".join(f"{f[1]:.3f}" for f in floors))
    blobs = root / ".mlops" / "blobs"
    before = dir_size(blobs)
    if not skip_dvc:
        results["dvc"]["unchanged"] = dvc(dvc_dir, "add", "-q", theirs.name)
    results["mlops"]["unchanged"], _ = timed(lambda: mlops.snapshot(data, "big"))
    modify_one_mib(data)
    if not skip_dvc:
        modify_one_mib(theirs)
        os.sync()
        results["dvc"]["1 MiB changed"] = dvc(dvc_dir, "add", "-q", theirs.name)
    os.sync()
    results["mlops"]["1 MiB changed"], version = timed(lambda: mlops.snapshot(data, "big"))
    grown = dir_size(blobs) - before
    print("snapshot vs dvc add:")
    for case in ("first", "unchanged", "1 MiB changed"):
        ours = results["mlops"][case]
        other = results["dvc"].get(case)
        note = f"dvc add {other:.3f} s -> {ratio(other, ours)} faster" if other else ""
        row(f"snapshot ({case})", ours, note)
    print(f"  first snapshot / (cp + sync): {ratio(results['mlops']['first'], floor_s)}")
    print(f"  stored for the 1 MiB change: {grown / MIB:.1f} MiB (version {version.ref})")


def make_frame(rows: int, columns: int, seed: int):  # type: ignore[no-untyped-def]
    """Numbers, counts, flags, categories and timestamps: a typical training table."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    kinds = [
        ("f", lambda: rng.normal(size=rows)),
        ("i", lambda: rng.integers(0, 1_000_000, rows)),
        ("flag", lambda: rng.random(rows) < 0.3),
        (
            "city",
            lambda: pd.Categorical.from_codes(
                rng.integers(0, 50, rows), [f"c{i}" for i in range(50)]
            ),
        ),
        (
            "ts",
            lambda: (
                pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**9, rows), unit="s")
            ),
        ),
    ]
    data = {"id": np.arange(rows)}
    while len(data) < columns:
        name, make = kinds[(len(data) - 1) % len(kinds)]
        data[f"{name}{len(data)}"] = make()
    return pd.DataFrame(data)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def bench_frame(root: Path, rows: int, columns: int, rounds: int) -> None:
    """Each round takes a new frame (so no chunk is already stored) and every write goes to a
    new file that is kept until the end, as blobs are: on a VM, writing over an old file or
    into the pages of a deleted one is much cheaper than taking memory never used before.
    Each step starts with nothing left to write back."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    import mlops_nb as mlops
    from mlops_nb.data import fingerprint as fp
    from mlops_nb.data.parallel import column_pool
    from mlops_nb.data.snapshot import dictionary_columns

    print(f"\n== DataFrame {rows:,} rows x {columns} columns, median of {rounds} rounds ==")
    out = root / "parquet"
    out.mkdir()

    def durable(write) -> None:  # type: ignore[no-untyped-def]
        target = out / f"{time.perf_counter_ns()}.parquet"
        write(target)
        with open(target, "rb") as handle:
            os.fsync(handle.fileno())

    def fingerprint(df) -> str:  # type: ignore[no-untyped-def]
        with column_pool() as pool:
            hashes = fp.row_hashes(df, None, pool)
        return fp.digest(fp.frame_schema(df), hashes, fp.index_hashes(df))

    warm = make_frame(1000, columns, seed=99)  # first-call costs (imports, allocator) for both
    durable(warm.to_parquet)
    mlops.snapshot(warm, "warm-up")
    figures: dict[str, list[tuple[float, float]]] = {}

    def measure(label: str, fn):  # type: ignore[no-untyped-def]
        os.sync()  # the previous step's dirty pages are not written back during this one
        wall, cpu, result = timed_cpu(fn)
        figures.setdefault(label, []).append((wall, cpu))
        return result

    for seed in range(rounds):
        df = make_frame(rows, columns, seed)
        measure("to_parquet", lambda df=df: durable(df.to_parquet))
        measure(
            "ours",
            lambda df=df: durable(
                lambda target: pq.write_table(
                    pa.Table.from_pandas(df), target, use_dictionary=dictionary_columns(df)
                )
            ),
        )
        measure("fingerprint", lambda df=df: fingerprint(df))
        version = measure("first", lambda df=df, seed=seed: mlops.snapshot(df, f"frame{seed}"))
        measure("again", lambda df=df, seed=seed: mlops.snapshot(df, f"frame{seed}"))
    rng = np.random.default_rng(0)
    changed = df.copy()
    picked = rng.choice(rows, size=rows // 100, replace=False)
    value_column = next(c for c in df.columns if c.startswith("f"))
    changed.loc[picked, value_column] = changed.loc[picked, value_column] + 1.0
    v2 = mlops.snapshot(changed, version.name)
    for _ in range(rounds):
        diff = measure("diff", lambda: mlops.diff_datasets(version.ref, v2.ref))
        keyed = measure("keyed", lambda: mlops.diff_datasets(version.ref, v2.ref, key="id"))
        measure("load", lambda: mlops.load_dataset(version.ref))
    wall = {label: median([w for w, _ in runs]) for label, runs in figures.items()}
    cpu = {label: median([c for _, c in runs]) for label, runs in figures.items()}
    print("snapshot vs Parquet alone (wall; CPU of all threads in brackets):")
    for label, text, base, of in (
        ("to_parquet", "to_parquet + fsync (pandas defaults)", None, ""),
        ("ours", "same, snapshot's Parquet settings", None, ""),
        ("fingerprint", "fingerprint (row hashes + schema)", None, ""),
        ("first", "snapshot (first)", "to_parquet", "of to_parquet"),
        ("again", "snapshot (unchanged)", "fingerprint", "of the fingerprint"),
    ):
        note = f"[{cpu[label]:.3f} s]"
        if base is not None:
            note += f" {ratio(wall[label], wall[base])} {of}"
        if label == "first":
            note += f", {ratio(wall[label], wall['ours'])} of the same Parquet alone"
        row(text, wall[label], note)
    row(
        "diff, 1% rows changed, no key",
        wall["diff"],
        f"+{diff.rows_added} -{diff.rows_removed} ={diff.rows_unchanged}",
    )
    row(
        "diff, 1% rows changed, key=id",
        wall["keyed"],
        f"~{keyed.rows_changed} changed in {keyed.changed_columns}",
    )
    row("load_dataset (verified)", wall["load"], f"[{cpu['load']:.3f} s]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file-mib", type=int, default=1024, help="file size (MiB)")
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--skip-dvc", action="store_true", help="no dvc comparison")
    parser.add_argument("--skip-file", action="store_true")
    parser.add_argument("--skip-frame", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="frame rounds (median shown)")
    args = parser.parse_args()
    if not args.skip_dvc and shutil.which("dvc") is None:
        sys.exit("dvc is not installed: pip install 'mlops_nb[bench]' (or pass --skip-dvc)")
    with tempfile.TemporaryDirectory(prefix="mlops-bench-data-") as tmp:
        root = Path(tmp)
        os.environ["MLOPS_HOME"] = str(root)
        os.chdir(root)
        from mlops_nb.project import Project

        Project.init(root)
        if not args.skip_file:
            bench_file(root, args.file_mib * MIB, args.skip_dvc)
        if not args.skip_frame:
            bench_frame(root, args.rows, args.columns, args.rounds)


if __name__ == "__main__":
    main()

"""Fuzzing with hypothesis: the parsers that take user text never do anything but return a
valid result or raise ``UsageError``; results that reach the database run without errors.

Covered: the run filter language (compiled, then executed on SQLite and PostgreSQL), the
condition language of gates and triggers (parsed and evaluated), the YAML loaders (config,
pipelines), names, relative paths and model/dataset references.
"""

from __future__ import annotations

import contextlib
import math
import string

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlops_nb.conditions import MissingValue, parse_condition
from mlops_nb.config import load_config, load_yaml_file
from mlops_nb.errors import UsageError
from mlops_nb.names import check_name, check_relative_path
from mlops_nb.registry.aliases import parse_version
from mlops_nb.tracking.filters import compile_filter
from mlops_nb.tracking.query import run_query

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")  # ast.parse of fuzz text

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- grammar-aware text: fragments of the languages, glued together at random -------------

FIELDS = [
    "metrics.auc", "metrics['train/loss']", 'metrics["a b"]', "params.model", "params.lr",
    "tags.team", "name", "status", "experiment", "user", "start_time", "run_id", "kind",
    "metrics", "params", "foo.bar", "metrics.__class__", "__import__('os')",
]  # fmt: skip
OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "=", "===", "<>", "~"]
LITERALS = [
    "0.8", "-1", "1e308", "1e999", "nan", "float('nan')", "'rf'", '"x"', "True", "None",
    "['a', 'b']", "[]", "(1, 2)", "{1: 2}", "{'a'}", "b'x'", "1j", "...", "'%'", "\"'\"",
    "'; DROP TABLE runs; --", "__import__('os').system('x')", "lambda: 1", "[1] * 10**9",
    "f'{1}'", "1 if 1 else 2", "(yield)", "open('/etc/passwd')",
]  # fmt: skip
GLUE = [" and ", " or ", " not ", "not ", "(", ")", " ", "", ",", ";", "\n", "\\", "#"]

token = st.sampled_from(FIELDS + OPERATORS + LITERALS + GLUE)
grammar_text = st.lists(token, max_size=12).map("".join)
fuzz_text = st.one_of(grammar_text, st.text(max_size=80), st.text(alphabet=string.printable))


@pytest.fixture(scope="module")
def populated_stores(tmp_path_factory, pg_cluster):
    """A SQLite and a PostgreSQL store with a few runs, for executing compiled filters."""
    from mlops_nb.project import Project
    from mlops_nb.tracking.runs import create_run, end_run, log_batch

    projects = []
    for uri in (None, pg_cluster.new_database()):
        root = tmp_path_factory.mktemp("store")
        (root / "mlops.yaml").write_text(f"store: {{uri: '{uri}'}}\n" if uri else "")
        projects.append(Project(root))
    for project in projects:
        for i, model in enumerate(["rf", "gb", "lr"]):
            run = create_run(project, f"r{i}", params={"model": model, "lr": 0.1 * i})
            log_batch(project, run.run_id, metrics=[("auc", 0.7 + i / 10, None)])
            log_batch(project, run.run_id, tags={"team": "risk"})
            end_run(project, run.run_id)
    yield projects
    for project in projects:
        project.close()


@FUZZ
@given(text=fuzz_text)
@example(text="metrics.auc > 0.8 and params.model == 'rf'")
@example(text="params.lr >= 0.1 or not tags.team in ['a', 'b']")
@example(text="metrics.auc > 1e999")
@example(text="metrics.auc > float('nan')")
def test_run_filter_compiles_or_is_a_usage_error_and_runs_on_both_stores(populated_stores, text):
    try:
        condition = compile_filter(text)
    except UsageError:
        return
    for project in populated_stores:
        with project.db.read() as conn:
            conn.execute(run_query(None, None).where(condition)).all()


NAMESPACE = {
    "metrics": {"auc": 0.9, "train/loss": 0.1, "a b": 1.0, "nan": math.nan},
    "params": {"model": "rf", "lr": 0.1},
    "tags": {"team": "risk"},
    "drift_share": 0.4,
    "dataset_drift": True,
    "name": "x",
    "status": "finished",
    "experiment": "e",
    "user": "u",
    "start_time": 1.0,
    "run_id": "abc",
    "kind": "run",
}


@FUZZ
@given(text=fuzz_text)
@example(text="drift_share > 0.3 or metrics.auc < 0.8")
@example(text="__import__('os').system('true')")
def test_conditions_parse_or_are_a_usage_error(text):
    with contextlib.suppress(UsageError):
        parse_condition(text, "fuzz")


@FUZZ
@given(text=fuzz_text)
@example(text="params.model < 3")
@example(text="metrics.auc / 0 > 1")
def test_conditions_evaluate_to_a_bool_or_a_clear_error(text):
    try:
        condition = parse_condition(text, "fuzz")
    except UsageError:
        return
    with contextlib.suppress(UsageError, MissingValue):
        assert condition.evaluate(NAMESPACE) in (True, False)


yaml_text = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.sampled_from(
            [
                "store:\n", "  uri: x\n", "steps:\n", "  a: nb.ipynb\n", "- ",
                "!!python/object:os.system ",
                "!!binary AAA", "&a [*a]\n", "*a", "{", "[", "? ", ": ", "\t", "---\n", "...\n",
                "%YAML 1.1\n", "!!set {a}", "<<: *a\n", "'", '"\\x00"', "2024-01-01", "~", "0x1F",
                "1e999", ".nan", "\ufeff", "\x00", "vars: {lr: ${x}}\n",
            ]
        ),
        max_size=15,
    ).map("".join),
)  # fmt: skip


@FUZZ
@given(text=yaml_text)
@example(text="a: &a [*a, *a]\nb: *a\n")
@example(text="!!python/object/apply:os.system ['true']")
def test_config_yaml_loads_or_is_a_usage_error(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("yaml")
    (folder / "mlops.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    for load in (lambda: load_yaml_file(folder / "mlops.yaml"), lambda: load_config(folder)):
        with contextlib.suppress(UsageError):
            load()


@FUZZ
@given(text=yaml_text)
@example(text="a: &a [*a, *a]\nb: *a\n")
def test_pipeline_yaml_loads_or_is_a_usage_error(tmp_path_factory, text):
    from mlops_nb.pipelines.spec import load_pipeline

    folder = tmp_path_factory.mktemp("yaml")
    (folder / "pipeline.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(UsageError):
        load_pipeline(folder / "pipeline.yaml")


@FUZZ
@given(text=st.text(max_size=60))
@example(text="a/../../b")
@example(text="\uff0e\uff0e/x")
@example(text="a\\b")
def test_relative_paths_stay_inside_their_root_or_are_refused(tmp_path_factory, text):
    root = tmp_path_factory.getbasetemp().resolve() / "root"
    try:
        accepted = check_relative_path(text)
    except UsageError:
        return
    assert accepted == text
    assert (root / accepted).resolve().is_relative_to(root)


@FUZZ
@given(text=st.text(max_size=140))
@example(text="model\n")  # a regex's ``$`` also matches before a final newline
def test_names_are_safe_identifiers_or_refused(text):
    try:
        name = check_name(text)
    except UsageError:
        return
    assert name == text and "/" not in name and "\\" not in name and ".." not in name
    assert name.isascii() and name.isprintable() and 1 <= len(name) <= 128


@FUZZ
@given(text=st.one_of(st.text(max_size=30), st.from_regex(r"v?[0-9]{1,4}\n?")))
@example(text="3\n")
def test_version_selectors_are_numbers_aliases_or_refused(text):
    try:
        value = parse_version(text)
    except UsageError:
        return
    number = text.removeprefix("v")
    if isinstance(value, int):
        assert number.isascii() and number.isdigit() and int(number) == value
    elif value is None:
        assert text == "latest"
    else:
        assert value == text == check_name(text)


@FUZZ
@given(text=st.one_of(st.text(max_size=40), st.from_regex(r"[a-z]{1,5}@[^\n]{0,8}")))
def test_model_and_dataset_references_parse_or_are_refused(text):
    from mlops_nb.data.refs import parse_ref as dataset_ref
    from mlops_nb.registry.aliases import parse_ref as model_ref

    for parse in (model_ref, dataset_ref):
        try:
            name, selector = parse(text)
        except UsageError:
            continue
        assert check_name(name) == name
        assert selector is None or isinstance(selector, (int, str))


def test_a_fuzzed_filter_never_changes_the_store(populated_stores):
    """After the fuzzing above, the stores still hold exactly their runs."""
    for project in populated_stores:
        with project.db.read() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(sa.table("runs")))
            assert count.scalar() == 3

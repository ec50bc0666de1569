"""Fuzzing that stays: mutated graph files and random strings in every position.

Every mutant of the four BLUE graphs must either be refused with one message (exit 2) or be a valid
graph whose compiled kernels agree with the interpreter bit for bit (`violet diff`, exit 0); a traceback,
a crash or a mismatch (exit 1) is a bug. Hypothesis shrinks a failure to its smallest mutation.

CI runs a bounded number of examples; `VIOLET_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py`
runs a longer campaign (docs/fuzzing.md).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import GRAPHS
from hostile import FILES, POSITIONS, hostile, payloads, write_pair
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_errors import violet

EXAMPLES = int(os.environ.get("VIOLET_FUZZ_EXAMPLES", "60"))
GRAPH_FILES = sorted(p.name for p in GRAPHS.glob("*.toml"))
HOSTILE_NUMBERS = ["1e309", "-1e309", "nan", "-nan", "inf", "-0.0", "5e-324", "9223372036854775808",
                   "-9223372036854775809", "9007199254740993", "0", "-1", "1e400", "0x7fffffffffffffff",
                   "99999999999999999999999999999999999999"]
OPERATORS = ["+", "-", "*", "/", "<", ">=", "==", " and ", " or ", " if "]
NUMBER = re.compile(r"(?<![A-Za-z_0-9.])-?\d+(\.\d+)?([eE][-+]?\d+)?")
IDENT = re.compile(r"\b[a-z_][a-z0-9_]*\b")
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def mutation(draw, text: str) -> str:
    """One random edit of a graph file's text: structure, numbers, names, operators or raw bytes."""
    lines = text.splitlines()
    if not lines:  # an earlier mutation emptied the file: nothing left to edit
        return text
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "number", "rename", "operator", "payload",
                                 "byte", "truncate"]))
    k = draw(st.integers(0, len(lines) - 1))
    if kind == "delete":
        del lines[k]
    elif kind == "duplicate":
        lines.insert(k, lines[k])
    elif kind == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[k], lines[j] = lines[j], lines[k]
    elif kind == "number" and (found := list(NUMBER.finditer(text))):
        m = draw(st.sampled_from(found))
        return text[:m.start()] + draw(st.sampled_from(HOSTILE_NUMBERS)) + text[m.end():]
    elif kind == "rename" and (found := list(IDENT.finditer(text))):
        m = draw(st.sampled_from(found))
        return text[:m.start()] + draw(st.sampled_from(sorted({f.group() for f in found}))) + text[m.end():]
    elif kind == "operator":
        spots = [i for i, c in enumerate(text) if c in "+-*/<>"]
        if spots:
            i = draw(st.sampled_from(spots))
            return text[:i] + draw(st.sampled_from(OPERATORS)) + text[i + 1:]
    elif kind == "payload" and (quoted := list(re.finditer(r'"[^"\n]*"', text))):
        m = draw(st.sampled_from(quoted))
        payload = draw(st.sampled_from(payloads(Path("/tmp/violet_fuzz_canary"))))
        return text[:m.start()] + '"' + payload.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")\
            .replace("\r", "\\r").replace("\x00", "\\u0000") + '"' + text[m.end():]
    elif kind == "byte":
        data = bytearray(text.encode("utf-8", errors="surrogateescape"))
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
        return data.decode("utf-8", errors="surrogateescape")
    elif kind == "truncate":
        return text[:draw(st.integers(0, len(text)))]
    return "\n".join(lines) + "\n"


@st.composite
def mutant(draw) -> tuple[str, str]:
    """A graph file name and its text after one to three mutations."""
    name = draw(st.sampled_from(GRAPH_FILES))
    text = (GRAPHS / name).read_text()
    for _ in range(draw(st.integers(1, 3))):
        text = draw(mutation(text))
    return name, text


@pytest.fixture(scope="module")
def graph_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def write_mutant(directory: Path, name: str, text: str) -> Path:
    """The four graphs beside each other (compositions resolve), `name` replaced by the mutant."""
    for other in GRAPH_FILES:
        shutil.copy(GRAPHS / other, directory / other)
    path = directory / name
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    return path


@FUZZ
@given(mutant())
def test_a_mutated_graph_file_is_refused_or_valid(capsys, graph_dir, case):
    """`check` of any mutant: exit 0, or exit 2 with one message naming the file; never a traceback."""
    name, text = case
    path = write_mutant(graph_dir, name, text)
    code, err = violet(capsys, "check", path)
    assert code in (0, 2), err
    if code == 2:
        assert err.startswith("error: ") and len(err) < 1500, err
    assert not Path("/tmp/violet_fuzz_canary").exists()


# each example compiles a kernel (seconds): no shrinking, the failing mutant is reported whole
@settings(FUZZ, max_examples=max(4, EXAMPLES // 10), phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(mutant())
def test_a_valid_mutant_compiles_and_agrees_with_the_interpreter(capsys, graph_dir, case):
    """Mutants that load are compiled and diffed against the interpreter on drawn rows: never a
    compile crash, never a mismatch."""
    name, text = case
    path = write_mutant(graph_dir, name, text)
    if violet(capsys, "check", path)[0] != 0:
        return
    code, err = violet(capsys, "diff", path, "--samples", "48", "--extreme", "48", "--assets", "5")
    assert code in (0, 2), (text, capsys.readouterr().out, err)


@FUZZ
@given(st.sampled_from(sorted(POSITIONS)), st.text(min_size=1, max_size=80))
def test_any_string_in_any_position_is_refused_or_inert(capsys, tmp_path_factory, position, text):
    """Random unicode (control characters, quotes, surrogates excluded by TOML) in every string position:
    a name position accepts it only if it is an identifier; nothing else happens."""
    directory = tmp_path_factory.mktemp("text")
    graph = write_pair(directory, hostile(position, text))
    code, err = violet(capsys, "check", graph)
    assert code in (0, 2), err
    if code == 0 and POSITIONS[position][1] == "name":
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", text), text
    assert sorted(p.name for p in directory.iterdir()) == sorted(FILES)

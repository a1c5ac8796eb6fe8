"""The stripper: regions, placeholders, hints, errors with file:line, leak detection."""

import textwrap

import pytest

from autograder.strip import StripError, find_leaks, solution_lines, strip_source


def strip(text: str, path: str = "mod.py") -> str:
    return strip_source(textwrap.dedent(text), path)[0]


def test_region_becomes_raise_naming_module_and_function():
    out = strip('''
        def forward(x):
            """Doc (B, n)."""
            # BEGIN SOLUTION: use torch.tanh
            y = x * 2
            return y
            # END SOLUTION
    ''')
    assert 'raise NotImplementedError("mod.forward: use torch.tanh")' in out
    assert '"""Doc (B, n)."""' in out and "x * 2" not in out


def test_method_gets_dotted_name_and_default_hint():
    out = strip('''
        class Net:
            def forward(self, x):
                # BEGIN SOLUTION
                return x
                # END SOLUTION
    ''')
    assert '        raise NotImplementedError("mod.Net.forward: not implemented yet")' in out


def test_placeholders_keep_code_running():
    out = strip('''
        class Net:
            def __init__(self):
                # BEGIN SOLUTION
                # SOLUTION: self.conv1 = ...
                # SOLUTION: self.fc = ...
                self.conv1 = Conv(3, 32)
                self.fc = Linear(10, 2)
                # END SOLUTION
    ''')
    assert "        self.conv1 = ...  # TODO\n        self.fc = ...  # TODO\n" in out
    assert "Conv(3, 32)" not in out


def test_hint_with_quotes_is_escaped():
    out = strip('''
        def f():
            # BEGIN SOLUTION: call "g" \\ then h
            return 1
            # END SOLUTION
    ''')
    namespace = {}
    exec(out, namespace)  # noqa: S102 - the template text under test
    with pytest.raises(NotImplementedError, match='mod.f: call "g"'):
        namespace["f"]()


@pytest.mark.parametrize("text, line, words", [
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n", 2, "never closed"),
    ("def f():\n    return 1\n    # END SOLUTION\n", 3, "without a matching"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n", 3, "inside the region"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n  # END SOLUTION\n", 4, "indentation"),
    ("def f():\n# BEGIN SOLUTION\n    return 1\n# END SOLUTION\n", 2, "not valid Python"),
])
def test_unbalanced_or_misplaced_markers_name_file_and_line(text, line, words):
    with pytest.raises(StripError, match=rf"^sol\.py:{line}: .*{words}"):
        strip_source(text, "sol.py")


def test_leak_check_finds_solution_lines_but_ignores_trivial_ones():
    _, regions = strip_source("def f(x):\n    # BEGIN SOLUTION\n    h = torch.tanh(x @ W.T + b)\n    return h\n"
                              "    # END SOLUTION\n", "m.py")
    secrets = solution_lines(regions)
    assert secrets == {"h = torch.tanh(x @ W.T + b)"}
    leaks = find_leaks(secrets, "# notes\nreturn h\n  h = torch.tanh(x @ W.T + b)\n", "notebook.py")
    assert leaks == ["notebook.py:3: h = torch.tanh(x @ W.T + b)"]


def test_text_without_markers_is_unchanged():
    source = "import torch\n\n\ndef f(x):\n    return x\n"
    assert strip_source(source, "m.py") == (source, [])

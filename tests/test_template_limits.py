"""Manifest templates run within CPU and memory limits: pathological templates stop with
``TemplateLimitError`` (a ``TemplateError``, so the note falls back to the default template)
instead of stalling a worker. Each probe runs in a child process with a 60 s timeout and a 2 GiB
address-space cap, so a template the limits miss fails the test instead of hanging it."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tiergate.plugin.core.templates import TemplateError, TemplateLimitError, render

PATHOLOGICAL = {
    "nested_loops": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "string_times": "{{ 'x' * 10**9 }}",
    "list_times": "{{ ([1] * 100000) * 100000 }}",
    "huge_power": "{{ 7 ** 10000000 }}",
    "center_filter": "{{ 'x' | center(1000000000) }}",
    "ljust_method": "{{ 'a'.ljust(1000000000) }}",
    "format_width": "{{ '{:>999999999}'.format(1) }}",
    "percent_width": "{{ '%0999999999d' % 1 }}",
    "big_output": "{% for a in range(100000) %}{{ 'x' * 60 }}{% endfor %}",
    "doubling": "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
                "{% endfor %}{{ ns.s|length }}",
    "list_doubling": "{% set ns = namespace(s=[1]) %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}"
                     "{% endfor %}{{ ns.s|length }}",
    "join_growth": "{% for i in range(100) %}{{ range(60000)|join(',') }}{% endfor %}",
}

PROBE = """
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from tiergate.plugin.core.templates import render
started = time.process_time()
try:
    out = render(sys.argv[1], {})
    print(json.dumps({"ok": len(out), "cpu": time.process_time() - started}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)[:200],
                      "cpu": time.process_time() - started}))
"""


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_template_stops_within_limits(name):
    try:
        done = subprocess.run([sys.executable, "-c", PROBE, PATHOLOGICAL[name]], capture_output=True,
                              text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: still rendering after 60 s")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result.get("error") == "TemplateLimitError", result
    print(f"{name}: {result['message']} cpu={result['cpu']:.2f}s")


def test_limit_error_is_a_template_error_and_ordinary_templates_still_render():
    assert issubclass(TemplateLimitError, TemplateError)
    text = render("Hi {{ name }}: {{ amount|round }} {{ '%05d' % 3 }} {{ 2 ** 10 }} "
                  "{% for i in range(3) %}{{ i }}{% endfor %} {{ 'ab' * 3 }} {{ '{:>6}'.format('x') }}",
                  {"name": "Ana", "amount": 123456.7})
    assert text == "Hi Ana: 123457.0 00003 1024 012 ababab      x"
    long_loop = "{% for i in range(2000) %}{{ i % 10 }}{% endfor %}"
    assert len(render(long_loop, {})) == 2000

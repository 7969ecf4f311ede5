"""Behaviour of the Python kernel driver (docs/kernel-protocol.md, ship-api.md §8.1).

Every test starts the driver as a subprocess exactly as Ship does and speaks the framed
protocol with it (see conftest.py).
"""

import base64
import os
import re
import signal
import subprocess
import threading
import time

import pytest

import kernel_harness
from kernel_harness import PYTHON, report, wait_until

# The harness's fixtures, made visible to pytest in this module (see kernel_harness.py).
kernel_root = kernel_harness.kernel_root
start_kernel = kernel_harness.start_kernel
kernel = kernel_harness.kernel

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ANSI = re.compile(r"\x1b\[")


def has_module(name):
    return subprocess.run([PYTHON, "-c", "import " + name], capture_output=True).returncode == 0


HAS_IPYTHON = has_module("IPython")
HAS_MPL = has_module("matplotlib")
needs_ipython = pytest.mark.skipif(not HAS_IPYTHON, reason="IPython not installed")
needs_mpl = pytest.mark.skipif(not HAS_MPL, reason="matplotlib not installed")


def wait_for_file(path, timeout=10):
    assert wait_until(lambda: os.path.exists(path), timeout), "cell did not start: %s" % path


# --- start-up and protocol ---------------------------------------------------------------

# The first frame is "ready" with pid, Python version and IPython availability; it comes
# quickly (the figure is reported, not asserted: machines differ).
def test_ready_frame_and_latency(start_kernel):
    times = []
    for _ in range(5):
        k = start_kernel()
        times.append(k.ready_seconds)
        assert k.ready["pid"] == k.pid
        assert re.fullmatch(r"\d+\.\d+\.\d+", k.ready["python"])
        assert k.ready["ipython_available"] is HAS_IPYTHON
        assert k.ready["protocol"] == 1
        k.close()
    report("ready after spawn (ms, 5 runs)", ", ".join("%.1f" % (t * 1000) for t in times))
    assert min(times) < 5.0


# Nothing heavy is imported before the first cell: IPython, matplotlib, numpy stay out.
def test_no_heavy_imports_at_start(kernel):
    # (spelled in pieces: a cell that mentions IPython by name loads it on purpose)
    text = kernel.ok("import sys\nsorted(m for m in ('IPy' + 'thon', 'matplotlib', 'numpy') "
                     "if m in sys.modules)")
    assert text == "[]"


# ping is answered with pong carrying the same id.
def test_ping(kernel):
    kernel.ping()
    kernel.ok("x = 1")
    kernel.ping()


# Malformed messages and unknown types get an "error" frame; the kernel keeps serving.
def test_protocol_errors_are_answered(kernel):
    payload = b"{not json"
    kernel.send_raw(len(payload).to_bytes(4, "big") + payload)
    msg = kernel.recv()
    assert msg["type"] == "error" and "malformed" in msg["error"]
    kernel.send({"type": "frobnicate", "id": 7})
    msg = kernel.recv()
    assert msg == {"type": "error", "id": 7, "error": "unknown message type 'frobnicate'"}
    kernel.send({"type": "execute", "id": 8, "code": 5})
    msg = kernel.recv()
    assert msg["type"] == "result" and msg["id"] == 8 and msg["success"] is False
    assert "invalid execute request" in msg["error"]
    assert kernel.ok("1 + 1") == "2"


# End of the control stream makes the kernel exit with status 0.
def test_eof_exits_zero(kernel):
    kernel.ok("x = 1")
    assert kernel.close() == 0


# A frame longer than 64 MiB is a protocol violation: logged, non-zero exit.
def test_oversized_frame_exits_nonzero(kernel):
    kernel.send_raw(((64 << 20) + 1).to_bytes(4, "big"))
    assert kernel.proc.wait(10) != 0
    assert "exceeds the limit" in kernel.log()


# Results carry exactly the documented fields.
def test_result_shape(kernel):
    result = kernel.execute("print('hi')")
    assert set(result) == {"type", "id", "success", "execution_count", "text", "images",
                           "display", "error", "interrupted", "truncated"}
    assert result["images"] == [] and result["display"] == []
    assert result["error"] is None and result["interrupted"] is False
    assert result["truncated"] is False


# --- namespace and execution_count -------------------------------------------------------

# Variables, functions and imports persist between cells.
def test_state_persists(kernel):
    kernel.ok("import math\nx = 41\ndef inc(v):\n    return v + 1")
    assert kernel.ok("inc(x)") == "42"
    assert kernel.ok("math.floor(2.5)") == "2"


# The namespace is __main__ (pickle of classes defined in cells works), cwd is the kernel
# root, and the root is first on sys.path; sys.argv looks interactive.
def test_main_module_and_paths(kernel, kernel_root):
    assert kernel.ok("__name__") == "'__main__'"
    kernel.ok("import pickle\nclass Point:\n    def __init__(self, x): self.x = x")
    assert kernel.ok("pickle.loads(pickle.dumps(Point(3))).x") == "3"
    assert kernel.ok("import os; os.getcwd()") == repr(str(kernel_root))
    assert kernel.ok("import sys; sys.path[0]") == repr(str(kernel_root))
    assert kernel.ok("sys.argv") == "['']"


# execution_count starts at 1, counts failures too, and silent calls neither get a count
# nor consume one.
def test_execution_count_rules(kernel):
    assert kernel.execute("1")["execution_count"] == 1
    assert kernel.execute("1/0")["execution_count"] == 2
    assert kernel.execute("print(")["execution_count"] == 3
    silent = kernel.execute("y = 5", silent=True)
    assert silent["success"] and silent["execution_count"] is None
    assert kernel.execute("y")["execution_count"] == 4


# Silent calls run (state changes) but neither display their value nor touch `_`.
def test_silent_does_not_display_or_store(kernel):
    kernel.ok("10")
    assert kernel.execute("20", silent=True)["text"] == ""
    assert kernel.ok("_") == "10"
    assert kernel.execute("print('still captured')", silent=True)["text"] == "still captured"


# --- display of values -------------------------------------------------------------------

# The trailing expression's repr is displayed and stored in _, __, ___; None is not shown.
def test_trailing_expression(kernel):
    assert kernel.ok("1 + 2 + 3") == "6"
    assert kernel.ok("'a'") == "'a'"
    assert kernel.ok("None") == ""
    assert kernel.ok("x = 3\nx * 2") == "6"
    kernel.ok("7")
    assert kernel.ok("(_, __, ___)") == "(7, 6, 'a')"


# A trailing ';' (even before a comment) suppresses the display and does not set _.
def test_semicolon_suppresses(kernel):
    kernel.ok("5")
    assert kernel.ok("1 + 1;") == ""
    assert kernel.ok("2 + 2;  # comment") == ""
    assert kernel.ok("_") == "5"
    assert kernel.ok("1; 2") == "2"
    assert kernel.ok("3  # no semicolon; here") == "3"


# Only the last top-level statement is displayed, and only if it is an expression.
def test_only_last_expression_displayed(kernel):
    assert kernel.ok("1\n2\nz = 3") == ""
    assert kernel.ok("if True:\n    4") == ""
    assert kernel.ok("'first'\n'second'") == "'second'"


# print-only cells give exactly what was printed (trimmed at both ends).
def test_print_only_exact(kernel):
    assert kernel.ok("print('a')\nprint('  b  ')\nprint('c', end='')") == "a\n  b  \nc"
    assert kernel.ok("print()\nprint('x')\nprint()") == "x"
    assert kernel.ok("print('héllo wörld ✓ 中文')") == "héllo wörld ✓ 中文"


# Output that is not valid UTF-8 is decoded with replacement characters.
def test_invalid_utf8_replaced(kernel):
    assert kernel.ok("import os; os.write(1, b'ok\\xff\\xfeend\\n');") == "ok\ufffd\ufffdend"


# --- fd-level capture --------------------------------------------------------------------

# Output of child processes and raw fd writes is captured.
def test_child_process_and_raw_fd_output(kernel):
    text = kernel.ok("import os\nos.system('echo hi')\nos.write(1, b'raw1\\n')\n"
                     "os.write(2, b'raw2\\n')\nimport subprocess\n"
                     "subprocess.run(['sh', '-c', 'echo from-sh; echo err-sh >&2'])")
    assert text == "hi\nraw1\nraw2\nfrom-sh\nerr-sh\nCompletedProcess(args=['sh', '-c', " \
                   "'echo from-sh; echo err-sh >&2'], returncode=0)"


# C-level printf is captured, flushed explicitly or by the driver at the end of the cell.
def test_c_level_printf(kernel):
    text = kernel.ok("import ctypes\nlibc = ctypes.CDLL(None)\n"
                     "libc.printf(b'from C %d\\n', 42)\nlibc.fflush(None)\nprint('py')\n"
                     "libc.printf(b'unflushed C\\n');")
    assert text == "from C 42\npy\nunflushed C"


# stdout and stderr (Python, raw fds and children) interleave in emission order.
def test_interleaving_order(kernel):
    code = ("import sys, os\n"
            "for i in range(5):\n"
            "    print('out', i)\n"
            "    print('err', i, file=sys.stderr)\n"
            "os.system('echo sh-out; echo sh-err >&2')\n"
            "sys.stdout.buffer.write(b'bin-out\\n')\n"
            "sys.stderr.write('last\\n');")
    expected = []
    for i in range(5):
        expected += ["out %d" % i, "err %d" % i]
    expected += ["sh-out", "sh-err", "bin-out", "last"]
    assert kernel.ok(code).split("\n") == expected


# Closing or replacing sys.stdout in a cell does not break capture for later cells.
def test_user_cannot_break_streams(kernel):
    kernel.ok("import sys, io\nsys.stdout.close()\nsys.stdout = io.StringIO()")
    assert kernel.ok("print('back')") == "back"


# Nothing a cell prints ends up in Ship's log.
def test_cell_output_not_in_log(kernel):
    kernel.ok("import os\nprint('MARK-A')\nos.system('echo MARK-B')\nos.write(2, b'MARK-C')")
    assert "MARK-" not in kernel.log()


# --- rich display ------------------------------------------------------------------------

# display() is a builtin; text goes into the text in order with prints; other types go to
# "display" bundles, PNG into "images"; failing _repr_*_ methods are ignored.
def test_display_and_rich_reprs(kernel):
    code = r'''
import base64
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDw"
                       "AEhQGAhKmMIQAAAABJRU5ErkJggg==")
class Html:
    def _repr_html_(self): return "<b>bold</b>"
    def __repr__(self): return "Html()"
class Pic:
    def _repr_png_(self): return PNG
    def __repr__(self): return "Pic()"
class Broken:
    def _repr_html_(self): raise ValueError("nope")
    def __repr__(self): return "Broken()"
class Bundle:
    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": "Bundle!", "application/json": {"a": [1, 2]}}
print("one")
display(Html())
print("two")
display(Pic(), Broken())
display(Bundle())
display({"text/plain": "raw text", "text/markdown": "*md*"}, raw=True)
Html()
'''
    result = kernel.execute(code)
    assert result["success"], result["error"]
    assert result["text"] == "one\nHtml()\ntwo\nBroken()\nBundle!\nraw text\nHtml()"
    assert len(result["images"]) == 1
    assert base64.b64decode(result["images"][0]["image/png"]).startswith(PNG_MAGIC)
    assert result["display"] == [
        {"text/html": "<b>bold</b>", "text/plain": "Html()"},
        {"application/json": {"a": [1, 2]}, "text/plain": "Bundle!"},
        {"text/markdown": "*md*", "text/plain": "raw text"},
        {"text/html": "<b>bold</b>", "text/plain": "Html()"},
    ]


# Objects that claim every attribute (proxies) and classes are shown by repr only; a
# failing __repr__ of the trailing value fails the cell.
def test_display_edge_cases(kernel):
    code = ("class Everything:\n"
            "    def __getattr__(self, name): return lambda *a, **k: '<i>x</i>'\n"
            "    def __repr__(self): return 'Everything()'\n"
            "class WithHtml:\n"
            "    def _repr_html_(self): return '<p/>'\n"
            "display(Everything(), WithHtml)")
    result = kernel.execute(code)
    assert result["success"] and result["display"] == []
    assert result["text"].startswith("Everything()\n<class '__main__.WithHtml'>")
    result = kernel.execute("class Bad:\n    def __repr__(self): raise RuntimeError('boom')\n"
                            "Bad()")
    assert not result["success"] and result["error"].endswith("RuntimeError: boom")


# Display data that would not survive JSON (NaN, deep nesting) is dropped, not sent.
def test_display_json_safety(kernel):
    code = ("class J:\n    def _repr_json_(self): return {'v': float('nan')}\n"
            "    def __repr__(self): return 'J()'\n"
            "deep = []\nfor _ in range(100): deep = [deep]\n"
            "class D:\n    def _repr_json_(self): return deep\n"
            "    def __repr__(self): return 'D()'\n"
            "display(J(), D())")
    result = kernel.execute(code)
    assert result["success"] and result["display"] == [] and result["text"] == "J()\nD()"


# IPython.display objects work (the shell is loaded for cells that mention IPython).
@needs_ipython
def test_ipython_display_objects(kernel):
    result = kernel.execute("from IPython.display import HTML, Markdown, display\n"
                            "display(HTML('<i>hi</i>'))\nMarkdown('# t')")
    assert result["success"], result["error"]
    assert [b.get("text/html") or b.get("text/markdown") for b in result["display"]] == \
        ["<i>hi</i>", "# t"]


# --- matplotlib --------------------------------------------------------------------------

def png_images(result):
    images = [base64.b64decode(i["image/png"]) for i in result["images"]]
    assert all(img.startswith(PNG_MAGIC) for img in images)
    return images


# plt.show() renders the figure once (no duplicate at the end of the cell), headless.
@needs_mpl
def test_matplotlib_show(kernel):
    result = kernel.execute("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\n"
                            "plt.title('squares')\nplt.show()\nprint('after show')")
    assert result["success"], result["error"]
    assert len(png_images(result)) == 1
    assert result["text"] == "after show"
    assert kernel.ok("import matplotlib\nmatplotlib.get_backend().lower()") == "'agg'"


# A figure left open at the end of the cell is rendered and closed; figures without
# anything drawn are skipped; several figures come out in order.
@needs_mpl
def test_matplotlib_open_figures(kernel):
    result = kernel.execute("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
                            "ax.bar(['a', 'b'], [3, 5]);\nplt.figure()\nplt.figure()\n"
                            "plt.plot([0, 1]);")
    assert result["success"], result["error"]
    assert len(png_images(result)) == 2
    assert kernel.ok("len(plt.get_fignums())") == "0"
    assert kernel.execute("1")["images"] == []


# Showing a figure object (trailing expression or display) renders it once, as an image
# without its "<Figure ...>" text.
@needs_mpl
def test_matplotlib_figure_as_value(kernel):
    result = kernel.execute("import matplotlib.pyplot as plt\nfig = plt.figure()\n"
                            "fig.gca().plot([1, 2])\nfig")
    assert result["success"], result["error"]
    assert len(png_images(result)) == 1 and result["text"] == ""
    result = kernel.execute("from matplotlib.figure import Figure\nf = Figure()\n"
                            "f.add_subplot().plot([3, 1])\ndisplay(f)\nf.show()")
    assert result["success"], result["error"]
    assert len(png_images(result)) == 2


# CJK labels render with the configured fallback fonts: no missing-glyph warnings.
@needs_mpl
def test_matplotlib_cjk(kernel):
    result = kernel.execute("import matplotlib.pyplot as plt\nimport matplotlib\n"
                            "print(matplotlib.rcParams['font.sans-serif'][:2])\n"
                            "plt.plot([-1, 1])\nplt.title('中文标题 日本語')\nplt.show()")
    assert result["success"], result["error"]
    assert result["text"] == "['Noto Sans CJK SC', 'Noto Sans CJK JP']"
    assert len(png_images(result)) == 1


# A cell that fails still returns its figures.
@needs_mpl
def test_matplotlib_failed_cell_keeps_figures(kernel):
    result = kernel.execute("import matplotlib.pyplot as plt\nplt.plot([1, 2])\n1/0")
    assert not result["success"] and len(png_images(result)) == 1


# --- errors ------------------------------------------------------------------------------

# Runtime errors: plain-text traceback from the user's cell, driver frames removed,
# ending with "<Type>: <message>".
def test_runtime_tracebacks(kernel, kernel_root):
    for code, last in [("undefined_variable", "NameError: name 'undefined_variable' is not "
                                              "defined"),
                       ("1 / 0", "ZeroDivisionError: division by zero"),
                       ("import no_such_module_xyz", "ModuleNotFoundError: No module named "
                                                     "'no_such_module_xyz'"),
                       ("raise ValueError('custom message')", "ValueError: custom message")]:
        result = kernel.execute(code)
        error = result["error"]
        assert not result["success"]
        assert error.startswith("Traceback (most recent call last):\n  File \"<cell-"), error
        assert error.endswith(last), error
        assert "shipyard_kernel" not in error and not ANSI.search(error)


# Tracebacks show source lines of functions defined in earlier cells and of modules.
def test_traceback_through_cells_and_modules(kernel, kernel_root):
    (kernel_root / "helper_mod.py").write_text("def explode():\n    raise KeyError('k')\n")
    kernel.ok("import helper_mod\ndef outer():\n    helper_mod.explode()")
    error = kernel.execute("outer()")["error"]
    assert "File \"<cell-2>\", line 1, in <module>" in error
    assert "File \"<cell-1>\", line 3, in outer\n    helper_mod.explode()" in error
    assert "helper_mod.py\", line 2, in explode\n    raise KeyError('k')" in error
    assert error.endswith("KeyError: 'k'")


# Chained exceptions keep both parts, without driver frames.
def test_chained_exception(kernel):
    error = kernel.execute("try:\n    1/0\nexcept Exception as e:\n"
                           "    raise RuntimeError('wrapped') from e")["error"]
    assert "ZeroDivisionError: division by zero" in error
    assert "direct cause" in error and error.endswith("RuntimeError: wrapped")
    assert "shipyard_kernel" not in error


# Compile errors are the standard formatted SyntaxError (file, line, caret, message).
def test_syntax_errors(kernel):
    result = kernel.execute("x = 1\nprint('x'")
    assert not result["success"]
    assert result["error"] == ("  File \"<cell-1>\", line 2\n    print('x'\n         ^\n"
                               "SyntaxError: '(' was never closed")
    error = kernel.execute("def f():\nreturn 1")["error"]
    assert error.endswith("IndentationError: expected an indented block after function "
                          "definition on line 1")
    assert kernel.execute("return 5")["error"].endswith("SyntaxError: 'return' outside function")
    assert "x = 1" not in kernel.execute("x")["error"]  # the failed cell never ran


# Output produced before an exception is still returned.
def test_output_before_exception(kernel):
    result = kernel.execute("print('step 1')\nimport os; os.system('echo step 2')\n"
                            "raise RuntimeError('stop')")
    assert result["text"] == "step 1\nstep 2"
    assert result["error"].endswith("RuntimeError: stop")


# SystemExit (sys.exit, exit()) is an error, not the end of the kernel.
def test_system_exit_keeps_kernel(kernel):
    kernel.ok("keep = 'me'")
    result = kernel.execute("import sys\nsys.exit(3)")
    assert not result["success"] and result["error"].endswith("SystemExit: 3")
    result = kernel.execute("exit()")
    assert not result["success"] and "SystemExit" in result["error"]
    assert kernel.ok("keep") == "'me'"
    assert kernel.alive()


# input() fails immediately.
def test_input_fails_fast(kernel):
    started = time.monotonic()
    result = kernel.execute("input('name? ')")
    assert time.monotonic() - started < 5
    assert not result["success"] and "EOFError: input() is not supported" in result["error"]


# A fork of user code that falls back into the driver exits silently: one result only.
def test_fork_in_user_code(kernel):
    result = kernel.execute("import os\npid = os.fork()\nprint('child' if pid == 0 else "
                            "'parent')")
    assert result["success"]
    assert "parent" in result["text"]
    kernel.ping()
    assert kernel.ok("os.waitpid(pid, 0)[1]") == "0"
    assert kernel.ok("'alive'") == "'alive'"


# --- interrupts --------------------------------------------------------------------------

# SIGINT during a cell raises KeyboardInterrupt in user code: the cell fails with a
# KeyboardInterrupt traceback, interrupted=true, and the namespace survives.
def test_sigint_interrupts_cell(kernel, kernel_root):
    kernel.ok("before = 'kept'")
    marker = kernel_root / "started"
    rid = kernel.submit("import time\nopen('started', 'w').close()\nprint('going to sleep')\n"
                        "time.sleep(100)")
    wait_for_file(marker)
    started = time.monotonic()
    kernel.interrupt()
    result = kernel.recv(timeout=10)
    assert time.monotonic() - started < 2.0
    assert result["id"] == rid and not result["success"] and result["interrupted"]
    assert result["error"].startswith("Traceback (most recent call last):")
    assert result["error"].endswith("KeyboardInterrupt")
    assert "time.sleep(100)" in result["error"] and "shipyard_kernel" not in result["error"]
    assert result["text"] == "going to sleep"
    assert kernel.ok("before") == "'kept'"


# A print loop is interruptible too (KeyboardInterrupt raised inside the stdout writer).
def test_sigint_interrupts_print_loop(kernel, kernel_root):
    kernel.submit("open('started', 'w').close()\ni = 0\nwhile True:\n    print(i)\n    i += 1",
                  output_limit=1000)
    wait_for_file(kernel_root / "started")
    time.sleep(0.2)
    kernel.interrupt()
    result = kernel.recv(timeout=10)
    assert result["interrupted"] and result["truncated"]
    assert result["error"].endswith("KeyboardInterrupt")
    assert int(kernel.ok("i")) > 0


# SIGINT while idle is ignored, however often it comes; the next cell runs normally.
def test_sigint_between_cells_ignored(kernel):
    kernel.ok("x = 1")
    for _ in range(50):
        kernel.interrupt()
        time.sleep(0.002)
    kernel.ping()  # answered after the signals were handled
    assert kernel.alive()
    result = kernel.execute("x + 1")
    assert result["success"] and result["text"] == "2" and not result["interrupted"]


# A storm of SIGINTs during a cell that catches KeyboardInterrupt does not kill the kernel;
# it stays usable (Ship would kill it after 2 s; here we only look at the behaviour).
def test_sigint_storm_during_catching_cell(kernel, kernel_root):
    kernel.submit("import time\ncaught = 0\nopen('started', 'w').close()\n"
                  "end = time.monotonic() + 1.5\n"
                  "while time.monotonic() < end:\n"
                  "    try:\n"
                  "        time.sleep(0.001)\n"
                  "    except KeyboardInterrupt:\n"
                  "        caught += 1\n")
    wait_for_file(kernel_root / "started")
    for _ in range(300):
        kernel.interrupt()
        time.sleep(0.002)
    result = kernel.recv(timeout=10)
    assert result["interrupted"]
    assert kernel.alive()
    assert int(kernel.ok("caught")) > 0
    assert kernel.ok("1 + 1") == "2"


# SIGINTs arriving at random points around many short cells (some land between cells,
# some while a result is being built) never kill the kernel nor misorder results.
def test_sigint_racing_cell_boundaries(kernel):
    stop = threading.Event()

    def storm():
        while not stop.is_set():
            try:
                os.kill(kernel.pid, signal.SIGINT)
            except ProcessLookupError:
                return
            time.sleep(0.0005)

    thread = threading.Thread(target=storm)
    thread.start()
    try:
        outcomes = []
        for i in range(150):
            result = kernel.execute("for _ in range(30000): pass\nprint('cell-%d')" % i,
                                    timeout=10)
            if result["success"]:
                assert result["text"] == "cell-%d" % i
            else:
                assert result["interrupted"] and result["error"].endswith("KeyboardInterrupt")
            outcomes.append(result["success"])
    finally:
        stop.set()
        thread.join()
    report("cells interrupted by the racing SIGINT storm", "%d of 150" % outcomes.count(False))
    assert kernel.alive()
    assert kernel.ok("print('calm again')") == "calm again"


# A `!command` is stopped with its process group when the cell is interrupted.
@needs_ipython
def test_sigint_stops_shell_command(kernel, kernel_root):
    kernel.submit("!touch started; sleep 100.123 | cat")
    wait_for_file(kernel_root / "started")

    def sleeping():
        return subprocess.run(["pgrep", "-f", "sleep 100.123"], capture_output=True).stdout

    assert wait_until(lambda: sleeping() != b"")
    kernel.interrupt()
    result = kernel.recv(timeout=10)
    assert result["interrupted"] and result["error"].endswith("KeyboardInterrupt")
    assert sleeping() == b""


# --- imports -----------------------------------------------------------------------------

# Modules written into the kernel root are importable, and reload() sees an edit made
# right away with the same file size.
def test_import_and_reload_from_root(kernel, kernel_root):
    (kernel_root / "mymod.py").write_text("VALUE = 1\n")
    assert kernel.ok("import mymod\nmymod.VALUE") == "1"
    (kernel_root / "mymod.py").write_text("VALUE = 2\n")
    assert kernel.ok("import importlib\nimportlib.reload(mymod).VALUE") == "2"
    (kernel_root / "newmod.py").write_text("NEW = 'fresh'\n")
    assert kernel.ok("import newmod\nnewmod.NEW") == "'fresh'"
    assert not (kernel_root / "__pycache__").exists()


# --- bounded output ----------------------------------------------------------------------

# A 50 MB flood is cut at output_limit, finishes quickly, and the kernel stays usable.
def test_output_limit_flood(kernel):
    started = time.monotonic()
    result = kernel.execute("line = 'x' * 1023\nfor _ in range(51200):\n    print(line)",
                            output_limit=100_000, timeout=120)
    elapsed = time.monotonic() - started
    report("50 MB print flood with output_limit=100 kB (s)", "%.2f" % elapsed)
    assert result["success"] and result["truncated"]
    assert len(result["text"].encode()) < 100_200
    assert result["text"].endswith("[output truncated: 100000 of 52428800 bytes shown]")
    assert elapsed < 60
    assert kernel.ok("print('small')") == "small"


# The limit also bounds displayed values and C-level output; output_limit=0 gives none.
def test_output_limit_applies_to_everything(kernel):
    result = kernel.execute("import os\nos.system('head -c 5000 /dev/zero | tr \"\\\\0\" y')\n"
                            "'z' * 5000", output_limit=1000)
    assert result["truncated"] and result["text"].startswith("y" * 1000)
    result = kernel.execute("print('hidden')", output_limit=0)
    assert result["truncated"] and "hidden" not in result["text"]


# --- magics ------------------------------------------------------------------------------

# !cmd, x = !cmd, %cd, %timeit, %%time, %pip and help? work through IPython's transforms.
@needs_ipython
def test_magics(kernel, kernel_root, tmp_path):
    started = time.monotonic()
    assert kernel.ok("!echo hi") == "hi"
    report("first magic cell incl. IPython load (ms)",
           "%.0f" % ((time.monotonic() - started) * 1000))
    assert kernel.ok("files = !printf 'a\\nb\\n'\nfiles") == "['a', 'b']"
    assert kernel.ok("name = 'var'\n!echo {name} $name") == "var var"
    (tmp_path / "elsewhere").mkdir()
    assert kernel.ok("%cd " + str(tmp_path / "elsewhere")) == str(tmp_path / "elsewhere")
    assert kernel.ok("import os; os.getcwd()") == repr(str(tmp_path / "elsewhere"))
    assert "per loop" in kernel.ok("%timeit -n1 -r1 pass")
    text = kernel.ok("%%time\nv = sum(range(10))\nv")
    assert "Wall time" in text and text.endswith("45")
    assert kernel.ok("%pip --version").startswith("pip ")
    assert "Return the number of items" in kernel.ok("len?")
    assert kernel.ok("!exit 3\n_exit_code") == "3"


# IPython extensions hooked on cell events work (autoreload).
@needs_ipython
def test_autoreload_extension(kernel, kernel_root):
    kernel.ok("%load_ext autoreload\n%autoreload 2")
    (kernel_root / "auto_mod.py").write_text("def v():\n    return 1\n")
    assert kernel.ok("import auto_mod\nauto_mod.v()") == "1"
    (kernel_root / "auto_mod.py").write_text("def v():\n    return 2\n")
    assert kernel.ok("auto_mod.v()") == "2"


# Magics leave Python's exit()/quit() and display() in place.
@needs_ipython
def test_magics_keep_python_builtins(kernel):
    kernel.ok("!true")
    assert kernel.execute("exit()")["error"].endswith("SystemExit: None")
    result = kernel.execute("class H:\n    def _repr_html_(self): return '<b/>'\ndisplay(H())")
    assert result["display"][0]["text/html"] == "<b/>"


# Errors inside magics fail the cell with a normal report; unknown magics are UsageErrors.
@needs_ipython
def test_magic_errors(kernel):
    result = kernel.execute("%%time\n1/0")
    assert not result["success"] and result["error"].endswith("ZeroDivisionError: division by zero")
    result = kernel.execute("%%writefile failing.py\ndef f():\n    return 1 / 0\nf()")
    assert result["success"]
    error = kernel.execute("%run failing.py")["error"]
    assert error.startswith("Traceback (most recent call last):\n  File \"")
    assert "failing.py\", line 2, in f" in error and "interactiveshell.py" not in error
    result = kernel.execute("%no_such_magic")
    assert not result["success"]
    assert result["error"] == "UsageError: Line magic function `%no_such_magic` not found."
    assert kernel.ok("1 + 1") == "2"


# Python that merely looks like magic (modulo, !=, strings) runs as Python, no IPython.
def test_magic_lookalikes_are_python(kernel):
    code = "a = 7\nb = (a\n% 4)\nc = a != 3\ns = '''\n!not a command\n%d'''\n(b, c, s.strip())"
    assert kernel.ok(code) == "(3, True, '!not a command\\n%d')"
    assert kernel.ok("import sys\n'IPy' 'thon' in sys.modules") == "False"


# Without IPython, a magic cell fails with a clear UsageError; plain syntax errors stay
# syntax errors.
def test_magics_without_ipython(start_kernel):
    kernel = start_kernel(extra_args=("-S",))  # no site-packages: no IPython
    assert kernel.ready["ipython_available"] is False
    result = kernel.execute("!echo hi")
    assert not result["success"]
    assert result["error"] == ("UsageError: IPython magics need IPython, which is not "
                               "installed in this interpreter")
    error = kernel.execute("%cd /tmp\nprint(")["error"]
    assert error.startswith("UsageError")
    assert kernel.execute("x = (")["error"].endswith("SyntaxError: '(' was never closed")
    assert kernel.ok("1 + 1") == "2"


# --- async ---------------------------------------------------------------------------------

# Top-level await works, its value is displayed, and asyncio.run() still works in a cell.
def test_top_level_await(kernel):
    assert kernel.ok("import asyncio\nawait asyncio.sleep(0.01)\n"
                     "async def f():\n    return 42\nawait f()") == "42"
    assert kernel.ok("asyncio.run(f())") == "42"
    assert kernel.ok("async with asyncio.timeout(1):\n    r = await f()\nr") == "42"
    result = kernel.execute("async def g():\n    raise ValueError('async boom')\nawait g()")
    assert result["error"].endswith("ValueError: async boom")
    assert "File \"<cell-4>\", line 2, in g" in result["error"]


# --- isolation between cells ---------------------------------------------------------------

# 500 sequential cells each get exactly their own marker output.
def test_many_sequential_cells(kernel):
    started = time.monotonic()
    for i in range(500):
        result = kernel.execute("print('marker-%d')" % i)
        assert result["success"] and result["text"] == "marker-%d" % i
        assert result["execution_count"] == i + 1
    elapsed = time.monotonic() - started
    report("500 sequential cells round trip (ms per cell)", "%.2f" % (elapsed * 2))


# Pipelined requests are answered one by one, in order.
def test_pipelined_requests(kernel):
    ids = [kernel.submit("print(%d)" % i) for i in range(20)]
    results = [kernel.recv() for _ in ids]
    assert [r["id"] for r in results] == ids
    assert [r["text"] for r in results] == [str(i) for i in range(20)]


# A background child that prints after its cell ended never shows up in a later cell.
def test_background_output_does_not_leak(kernel):
    result = kernel.execute("import subprocess, os\n"
                            "subprocess.Popen(['sh', '-c', 'sleep 1; echo LATE-ONE'])\n"
                            "os.system('(sleep 1.2; echo LATE-TWO) &')\nprint('now')")
    assert result["text"] == "now"
    result = kernel.execute("import time\ntime.sleep(2)\nprint('next')")
    assert result["text"] == "next"
    result = kernel.execute("print('third')")
    assert result["text"] == "third"
    assert "LATE" not in kernel.log()


# A background child that floods forever does not block or pollute later cells.
def test_background_flood_does_not_block(kernel):
    kernel.ok("import subprocess\np = subprocess.Popen(['yes', 'SPAM'])")
    for i in range(5):
        assert kernel.ok("print('clean %d')" % i) == "clean %d" % i
    kernel.ok("p.kill(); p.wait()")


# --- measurements --------------------------------------------------------------------------

# Idle memory of a fresh kernel and after IPython was loaded (reported, not asserted).
@needs_ipython
def test_measure_memory_and_ipython_load(start_kernel):
    kernel = start_kernel()
    kernel.ok("1")
    time.sleep(0.2)
    before = kernel.rss_kib()
    started = time.monotonic()
    kernel.ok("%cd .")
    first_magic = time.monotonic() - started
    started = time.monotonic()
    kernel.ok("%cd .")
    second_magic = time.monotonic() - started
    time.sleep(0.2)
    after = kernel.rss_kib()
    report("idle RSS of a fresh kernel (MiB)", "%.1f" % (before / 1024))
    report("idle RSS after IPython was loaded (MiB)", "%.1f" % (after / 1024))
    report("first magic cell (IPython load) (ms)", "%.0f" % (first_magic * 1000))
    report("second magic cell (ms)", "%.1f" % (second_magic * 1000))
    assert after > before


# --- more of the environment ---------------------------------------------------------------

# multiprocessing (fork) works with functions defined in cells; workers never answer Ship.
def test_multiprocessing_pool(kernel):
    text = kernel.ok("import multiprocessing as mp\ndef sq(x):\n    return x * x\n"
                     "with mp.get_context('fork').Pool(2) as pool:\n"
                     "    print(pool.map(sq, range(5)))")
    assert text == "[0, 1, 4, 9, 16]"
    kernel.ping()
    assert kernel.ok("'still here'") == "'still here'"


# A user thread printing between cells writes nowhere: not into Ship's log, not into the
# next cell once it has stopped.
def test_thread_output_between_cells(kernel):
    kernel.ok("import threading, time\ndef ticker():\n    for _ in range(30):\n"
              "        print('TICK')\n        time.sleep(0.01)\n"
              "t = threading.Thread(target=ticker)\nt.start()")
    time.sleep(0.6)
    assert kernel.ok("t.join()\nprint('joined')").endswith("joined")
    assert "TICK" not in kernel.log()


# Packages installed into the user site after start-up (pip --user) become importable
# without a restart.
def test_user_site_appears(kernel, kernel_root):
    site_dir = kernel.ok("import site\nprint(site.getusersitepackages())")
    assert site_dir.startswith(str(kernel_root))
    os.makedirs(site_dir)
    with open(os.path.join(site_dir, "usersitemod.py"), "w") as f:
        f.write("WHO = 'user site'\n")
    assert kernel.ok("import usersitemod\nusersitemod.WHO") == "'user site'"


# `from __future__` imports in one cell apply to later cells, as in IPython.
def test_future_imports_persist(kernel):
    kernel.ok("from __future__ import annotations")
    assert kernel.ok("def f(x: UndefinedType) -> None: pass\nf.__annotations__['x']") == \
        "'UndefinedType'"


# Oversized images are dropped with a note in the text.
def test_oversized_image_dropped(kernel):
    result = kernel.execute("display({'text/plain': 'big', 'image/png': b'\\x89PNG' + "
                            "bytes(17 << 20)}, raw=True)")
    assert result["success"] and result["images"] == []
    assert "[image omitted:" in result["text"] and "big" in result["text"]


# Text that would blow the frame limit once JSON-escaped is cut so the frame still fits.
def test_result_frame_stays_bounded(kernel):
    result = kernel.execute("import sys\nsys.stdout.write('\\x01' * (16 << 20));",
                            output_limit=16 << 20, timeout=120)
    assert result["success"] and result["truncated"]
    assert len(result["text"]) < (1 << 20) + 100
    assert kernel.ok("1") == "1"


# %matplotlib inline is accepted and figures keep coming back as PNG.
@needs_ipython
@needs_mpl
def test_matplotlib_magic(kernel):
    assert kernel.ok("%matplotlib inline") == ""
    result = kernel.execute("import matplotlib.pyplot as plt\nplt.plot([1, 3]);")
    assert result["success"] and len(png_images(result)) == 1

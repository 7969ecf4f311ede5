"""Shipyard's Python kernel driver.

Ship starts one driver per kernel, with the kernel's root directory as working directory,
through a small `-c` launcher so that the bytecode compiled at build time (__pycache__ next
to this file) is used:

    /usr/bin/python3 -c <launcher> <this directory> shipyard_kernel --control-in 3 --control-out 4

(the launcher, in src/ship/kernel/kernel.cpp, runs this module as __main__ with runpy); run
directly it works the same:

    /usr/bin/python3 shipyard_kernel.py --control-in 3 --control-out 4

and talks to it over the two pipes with length-prefixed JSON frames. The protocol and the
execution semantics (IPython-compatible, ship-api.md section 8.1) are specified in
docs/kernel-protocol.md; keep the two in step.

Only the standard library is imported before the "ready" frame. IPython (for magics) and
matplotlib (figures) are used lazily, only when a cell needs them. The file is
self-contained on purpose: Ship copies it next to its binary and runs it with whatever
python3 the sandbox has.
"""

import io
import os
import signal
import sys

# ---------------------------------------------------------------------------------------
# Interrupt gate.
#
# SIGINT raises KeyboardInterrupt only while user code runs; at any other moment (reading
# the control pipe, collecting output, building a result) it is ignored, so a late
# interrupt for a cell that has already finished can neither kill the driver nor leak
# into the next cell. The gate is a module global flipped with plain assignments
# (STORE_GLOBAL): such an assignment runs no Python code and never checks for pending
# signals, so the handler cannot fire between "user code returned" and "gate closed"
# (see _Kernel._execute). Installed first thing, before anything else can go wrong.
# ---------------------------------------------------------------------------------------
_interruptible = False
_interrupts = 0


def _on_sigint(signum, frame):
    global _interrupts
    if _interruptible:
        _interrupts += 1
        raise KeyboardInterrupt


signal.signal(signal.SIGINT, _on_sigint)

PROTOCOL_VERSION = 1
MAX_FRAME = 64 << 20
DEFAULT_OUTPUT_LIMIT = 1 << 20
MAX_OUTPUT_LIMIT = 16 << 20
MAX_IMAGE_BYTES = 16 << 20  # one PNG, before base64
MAX_IMAGES_CHARS = 40 << 20  # all images of one result, base64
MAX_DISPLAY_CHARS = 8 << 20  # all other rich bundles of one result
MAX_ERROR_CHARS = 1 << 20
MAX_JSON_DEPTH = 20  # Ship parses frames with a nesting limit of 32
CELL_PREFIX = "<cell-"
_CO_COROUTINE = 0x0080
_PYCF_ALLOW_TOP_LEVEL_AWAIT = 0x2000

_DRIVER_FILE = __file__
# Ship runs the driver through runpy from a `python3 -c` launcher (so that the bytecode
# compiled at build time is used); those frames are machinery too.
_LAUNCHER_FILES = ("<string>", getattr(sys.modules.get("runpy"), "__file__", None) or "<runpy>")
# The user namespace takes over sys.modules["__main__"]; keep the driver's module alive.
_DRIVER_MODULE = sys.modules[__name__]

# Ship's log: private duplicates of the fds 1 and 2 the driver was started with. Fds 1
# and 2 themselves point at the cell's capture pipe while a cell runs and at /dev/null
# between cells (user threads printing between cells must not flood Ship's log).
_log_fd = 2
_log_out_fd = 1
_idle_fd = None
_PIPE_SIZE = 1 << 20

# The cell being executed (a _Cell), None between cells.
_CELL = None


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _log(message):
    try:
        line = "shipyard-kernel[%d]: %s\n" % (os.getpid(), message)
        _write_all(_log_fd, line.encode("utf-8", "backslashreplace"))
    except OSError:
        pass


# ---------------------------------------------------------------------------------------
# sys.stdout / sys.stderr: unbuffered writers straight onto fds 1 and 2, so that Python
# output interleaves with output of C code and child processes in emission order (they
# all meet in the one capture pipe). They never raise on unencodable text and ignore
# close(): user code must not be able to break the driver's own streams.
# ---------------------------------------------------------------------------------------
class _FdBinaryWriter(io.BufferedIOBase):
    def __init__(self, fd, name):
        super().__init__()
        self._fd = fd
        self._name = name

    @property
    def name(self):
        return self._name

    @property
    def raw(self):
        return self

    def write(self, b):
        data = bytes(b)
        _write_all(self._fd, data)
        return len(data)

    def writable(self):
        return True

    def fileno(self):
        return self._fd

    def isatty(self):
        return False

    def flush(self):
        pass

    def close(self):
        pass

    def detach(self):
        raise io.UnsupportedOperation("detach")


class _FdTextWriter(io.TextIOBase):
    encoding = "utf-8"
    errors = "backslashreplace"
    newlines = None
    line_buffering = False
    write_through = True
    mode = "w"

    def __init__(self, fd, name):
        super().__init__()
        self._fd = fd
        self._name = name
        self.buffer = _FdBinaryWriter(fd, name)

    @property
    def name(self):
        return self._name

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        if s:
            _write_all(self._fd, s.encode("utf-8", "backslashreplace"))
        return len(s)

    def writable(self):
        return True

    def fileno(self):
        return self._fd

    def isatty(self):
        return False

    def flush(self):
        pass

    def close(self):
        pass

    def reconfigure(self, **kwargs):
        pass

    def detach(self):
        raise io.UnsupportedOperation("detach")


_STDOUT = _FdTextWriter(1, "<stdout>")
_STDERR = _FdTextWriter(2, "<stderr>")


def _emit_text(text):
    """Writes displayed text into the cell's output stream (fd 1), in emission order."""
    if text:
        _write_all(1, text.encode("utf-8", "backslashreplace"))


# ---------------------------------------------------------------------------------------
# Output capture: one pipe per cell behind fds 1 and 2, drained by a thread.
# ---------------------------------------------------------------------------------------
class _CellOutput:
    """Collects what a cell writes to fds 1 and 2, bounded by `limit` bytes.

    The end of the cell is marked by a random sentinel that the driver writes through the
    pipe after the cell: everything before it in the byte stream was written before the
    cell ended, by the driver process or by any child process. What arrives later (a
    background child that is still printing) is drained and dropped, and because every
    cell gets a fresh pipe, it can never show up in another cell's text.
    """

    def __init__(self, limit):
        import threading

        self.limit = limit
        self.buf = bytearray()
        self.total = 0
        self.finished = False
        self.done = threading.Event()
        self.sentinel = b"\x00shipyard-cell-end-" + os.urandom(16).hex().encode() + b"\x00"
        self.rfd, self.wfd = os.pipe()
        try:
            # A C extension that prints while holding the GIL blocks on a full pipe until
            # the reader (which needs the GIL) drains it; a larger pipe makes that rare.
            import fcntl

            fcntl.fcntl(self.wfd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        except (ImportError, AttributeError, OSError):
            pass
        self.thread = threading.Thread(target=self._drain, name="shipyard-output", daemon=True)

    def start(self):
        # The reader inherits a signal mask that blocks SIGINT, so the kernel always
        # delivers Ship's SIGINT to the main thread, where it interrupts blocking calls.
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])
        try:
            self.thread.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
        os.dup2(self.wfd, 1)
        os.dup2(self.wfd, 2)

    def _add(self, data):
        if self.finished or not data:
            return
        self.total += len(data)
        room = self.limit - len(self.buf)
        if room > 0:
            self.buf += data[:room]

    def _drain(self):
        keep = len(self.sentinel) - 1
        tail = b""
        collecting = True
        try:
            while True:
                try:
                    chunk = os.read(self.rfd, 1 << 16)
                except InterruptedError:
                    continue
                if not chunk:
                    break
                if not collecting:
                    continue
                data = tail + chunk if tail else chunk
                i = data.find(self.sentinel)
                if i >= 0:
                    self._add(data[:i])
                    collecting = False
                    tail = b""
                    self.done.set()
                elif len(data) > keep:
                    # The last bytes may be the start of the sentinel: hold them back.
                    self._add(data[:-keep])
                    tail = data[-keep:]
                else:
                    tail = data
        except Exception as exc:  # never leave the pipe undrained
            _log("output reader failed: %r" % (exc,))
        finally:
            if collecting:
                self._add(tail)
                self.done.set()
            os.close(self.rfd)

    def finish(self):
        """Ends capturing (fds 1/2 back to the idle sink); returns (bytes, total_bytes)."""
        os.dup2(_idle_fd, 1)
        os.dup2(_idle_fd, 2)
        try:
            _write_all(self.wfd, self.sentinel)  # < PIPE_BUF: one atomic write
        finally:
            os.close(self.wfd)
        if not self.done.wait(10.0):
            _log("output reader did not reach the end of the cell in time")
        self.finished = True
        return bytes(self.buf), self.total


def _flush_c_stdio():
    # printf() from C code sits in libc's buffer (fully buffered: fd 1 is a pipe) until
    # flushed. Only worth doing when C code can have been reached through ctypes/cffi.
    if "ctypes" not in sys.modules and "_cffi_backend" not in sys.modules:
        return
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except Exception:
        pass


# ---------------------------------------------------------------------------------------
# Rich display.
# ---------------------------------------------------------------------------------------
class _Cell:
    __slots__ = ("images", "display", "image_chars", "display_chars", "shown_exception")

    def __init__(self):
        self.images = []
        self.display = []
        self.image_chars = 0
        self.display_chars = 0
        self.shown_exception = None


_REPR_METHODS = (
    ("image/png", "_repr_png_"),
    ("image/jpeg", "_repr_jpeg_"),
    ("image/svg+xml", "_repr_svg_"),
    ("text/html", "_repr_html_"),
    ("text/markdown", "_repr_markdown_"),
    ("text/latex", "_repr_latex_"),
    ("application/json", "_repr_json_"),
    ("application/javascript", "_repr_javascript_"),
    ("application/pdf", "_repr_pdf_"),
)


def _real_method(obj, name):
    # Like IPython's get_real_method: objects that claim to have every attribute
    # (proxies, mocks) have no rich representation, and neither do classes.
    try:
        method = getattr(obj, name, None)
    except Exception:
        return None
    return method if callable(method) else None


def _format_bundle(obj, include=None, exclude=None):
    """The mime bundle of `obj` (IPython's formatter rules). repr() errors propagate,
    errors in the optional _repr_*_ methods only drop that format."""
    data = {}
    rich = not isinstance(obj, type)
    if rich:
        try:
            canary = getattr(obj, "_ipython_canary_method_should_not_exist_", None)
        except Exception:
            canary = None
        rich = canary is None
    if rich:
        method = _real_method(obj, "_repr_mimebundle_")
        if method is not None:
            try:
                result = method(include=include, exclude=exclude)
            except Exception:
                result = None
            if isinstance(result, tuple) and result:
                result = result[0]
            if isinstance(result, dict):
                data.update((k, v) for k, v in result.items()
                            if isinstance(k, str) and v is not None)
        for mime, name in _REPR_METHODS:
            if mime in data:
                continue
            method = _real_method(obj, name)
            if method is None:
                continue
            try:
                value = method()
            except Exception:
                continue
            if isinstance(value, tuple) and value:
                value = value[0]
            if value is not None:
                data[mime] = value
        figure_mod = sys.modules.get("matplotlib.figure")
        if figure_mod is not None and "image/png" not in data:
            if isinstance(obj, figure_mod.Figure):
                png = _figure_png(obj, close=True)
                if png is not None:
                    data["image/png"] = png
    if not isinstance(data.get("text/plain"), str):
        data["text/plain"] = repr(obj)
    if include:
        data = {k: v for k, v in data.items() if k in include}
    if exclude:
        data = {k: v for k, v in data.items() if k not in exclude}
    return data


def _json_ok(value, depth=0):
    if depth > MAX_JSON_DEPTH:
        return False
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, (list, tuple)):
        return all(_json_ok(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_ok(v, depth + 1) for k, v in value.items())
    return False


def _b64(data):
    import binascii

    return binascii.b2a_base64(bytes(data), newline=False).decode("ascii")


def _emit_png(data):
    """Adds one PNG (bytes, or base64 text) to the cell's images; False if it was dropped."""
    cell = _CELL
    if cell is None:
        return False
    if isinstance(data, str):
        b64 = "".join(data.split())
        size = len(b64) * 3 // 4
    else:
        size = len(data)
        b64 = None
    if size > MAX_IMAGE_BYTES:
        _emit_text("[image omitted: %d bytes exceed the limit of %d bytes per image]\n"
                   % (size, MAX_IMAGE_BYTES))
        return False
    if b64 is None:
        b64 = _b64(data)
    if cell.image_chars + len(b64) > MAX_IMAGES_CHARS:
        _emit_text("[image omitted: the images of this cell exceed %d MiB]\n"
                   % (MAX_IMAGES_CHARS >> 20))
        return False
    cell.image_chars += len(b64)
    cell.images.append({"image/png": b64})
    return True


def _emit_bundle(data):
    """Routes a mime bundle: text/plain into the text, image/png into images, the other
    types into display (with text/plain alongside as the fallback)."""
    if not isinstance(data, dict):
        return
    text = data.get("text/plain")
    if not isinstance(text, str):
        text = None
    shown_png = False
    png = data.get("image/png")
    if isinstance(png, (bytes, bytearray, memoryview, str)):
        shown_png = _emit_png(png)
    cell = _CELL
    others = {}
    for mime, value in data.items():
        if mime in ("text/plain", "image/png") or not isinstance(mime, str):
            continue
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = _b64(value)
        if not _json_ok(value):
            continue
        others[mime] = value
    if others and cell is not None:
        if text is not None:
            others["text/plain"] = text
        import json

        size = len(json.dumps(others, ensure_ascii=False))
        if cell.display_chars + size <= MAX_DISPLAY_CHARS:
            cell.display_chars += size
            cell.display.append(others)
        else:
            _emit_text("[rich output omitted: the display data of this cell exceed %d MiB]\n"
                       % (MAX_DISPLAY_CHARS >> 20))
    if text is not None and not shown_png:
        _emit_text(text + "\n")


def display(*objs, include=None, exclude=None, metadata=None, transient=None,
            display_id=None, raw=False, clear=False, **kwargs):
    """Display objects in the cell's output (IPython's display(), as a builtin)."""
    for obj in objs:
        if raw:
            _emit_bundle(obj if isinstance(obj, dict) else {"text/plain": str(obj)})
        else:
            _emit_bundle(_format_bundle(obj, include, exclude))


def _no_input(prompt=""):
    raise EOFError("input() is not supported in this sandbox: the interpreter has no "
                   "standard input")


# ---------------------------------------------------------------------------------------
# matplotlib: headless (Agg), CJK font fallbacks, figures collected as PNG. Configured by
# post-import hooks so that nothing is imported before user code asks for matplotlib.
# ---------------------------------------------------------------------------------------
_CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP"]


def _on_matplotlib_imported(mpl):
    # Families that are not installed are skipped silently by the font manager; the list
    # order makes CJK text render instead of showing empty boxes.
    current = [f for f in mpl.rcParams["font.sans-serif"] if f not in _CJK_FONTS]
    mpl.rcParams["font.sans-serif"] = _CJK_FONTS + current


def _pyplot_show(*args, **kwargs):
    """plt.show() under Shipyard: render the open figures into the cell's images."""
    if _CELL is not None:
        _flush_figures(render=True)


def _figure_show(self, warn=True):
    if _CELL is not None:
        display(self)


def _on_pyplot_imported(plt):
    _pyplot_show.__doc__ = plt.show.__doc__
    plt.show = _pyplot_show
    figure_mod = sys.modules.get("matplotlib.figure")
    if figure_mod is not None:
        figure_mod.Figure.show = _figure_show


def _figure_png(fig, close):
    try:
        if not fig.axes and not fig.lines:  # IPython's rule: nothing drawn, no image
            return None
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        return buf.getvalue()
    finally:
        if close:
            plt = sys.modules.get("matplotlib.pyplot")
            if plt is not None:
                plt.close(fig)


def _flush_figures(render):
    """Renders (unless `render` is false) and closes every open pyplot figure."""
    plt = sys.modules.get("matplotlib.pyplot")
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if plt is None or helpers is None:
        return
    first_error = None
    for manager in list(helpers.Gcf.get_all_fig_managers()):
        fig = manager.canvas.figure
        try:
            if render:
                png = _figure_png(fig, close=True)
                if png is not None:
                    _emit_png(png)
            else:
                plt.close(fig)
        except Exception as exc:
            if first_error is None:
                first_error = exc
            try:
                plt.close(fig)
            except Exception:
                pass
    if first_error is not None:
        try:
            raise first_error
        finally:
            first_error = None  # no exception -> frame -> exception cycle (see _Kernel)


class _HookedLoader:
    """Wraps a module's loader to run a callback right after the module executed."""

    def __init__(self, loader, name, hooks):
        self._loader = loader
        self._name = name
        self._hooks = hooks

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        try:
            self._loader.exec_module(module)
        finally:
            module.__loader__ = self._loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader
        callback = self._hooks.pop(self._name, None)
        if callback is not None:
            try:
                callback(module)
            except Exception as exc:
                _log("post-import hook for %s failed: %r" % (self._name, exc))

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _PostImportFinder:
    """A meta path finder that never finds anything itself; it wraps the loader of a few
    named modules so their hook runs once they are imported."""

    def __init__(self, hooks):
        self._hooks = hooks
        self._busy = set()

    def find_spec(self, name, path=None, target=None):
        if name not in self._hooks or name in self._busy:
            return None
        self._busy.add(name)
        try:
            spec = None
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None)
                if finder is self or find is None:
                    continue
                spec = find(name, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.discard(name)
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _HookedLoader(spec.loader, name, self._hooks)
        return spec

    def invalidate_caches(self):
        pass


def _install_fresh_source_hook(root):
    """Imports from the kernel root skip bytecode caches.

    Users edit modules in the workspace and importlib.reload() them, often within the same
    second and with the same size (x = 1 -> x = 2); a .pyc validated by mtime seconds and
    size would then be taken as current and the old code would run. Raising from
    path_stats makes SourceLoader.get_code neither read nor write bytecode.
    """
    from importlib.machinery import (BYTECODE_SUFFIXES, EXTENSION_SUFFIXES, SOURCE_SUFFIXES,
                                     ExtensionFileLoader, FileFinder, SourceFileLoader,
                                     SourcelessFileLoader)

    class _FreshSourceLoader(SourceFileLoader):
        def path_stats(self, path):
            raise OSError("no bytecode cache for the kernel root")

    loaders = [(ExtensionFileLoader, EXTENSION_SUFFIXES), (_FreshSourceLoader, SOURCE_SUFFIXES),
               (SourcelessFileLoader, BYTECODE_SUFFIXES)]
    prefix = root.rstrip("/") + "/"

    def hook(path):
        inside = path == root or (path.startswith(prefix) and "-packages" not in path)
        if inside and os.path.isdir(path):
            return FileFinder(path, *loaders)
        raise ImportError("not the kernel root")

    sys.path_hooks.insert(0, hook)
    sys.path_importer_cache.pop(root, None)


# ---------------------------------------------------------------------------------------
# Errors.
# ---------------------------------------------------------------------------------------
class _CompileError(Exception):
    """A cell that could not be compiled (reported without a traceback header)."""

    def __init__(self, exc):
        super().__init__()
        self.exc = exc


class _MagicsUnavailable(Exception):
    pass


_IPYTHON_DIR_MARK = os.sep + "IPython" + os.sep


def _strip_driver_frames(te, seen):
    import traceback

    if te is None or id(te) in seen:
        return
    seen.add(id(te))
    frames = list(te.stack)
    for i, frame in enumerate(frames):
        if frame.filename.startswith(CELL_PREFIX):
            frames = frames[i:]
            break
    else:
        # Raised outside any cell frame (an exception shown by a magic such as %run):
        # start at the first frame that is neither the driver's nor IPython's machinery.
        while frames and (frames[0].filename == _DRIVER_FILE
                          or frames[0].filename in _LAUNCHER_FILES
                          or _IPYTHON_DIR_MARK in frames[0].filename):
            del frames[0]
    frames = [f for f in frames if f.filename != _DRIVER_FILE]
    te.stack = traceback.StackSummary.from_list(frames)
    _strip_driver_frames(te.__cause__, seen)
    _strip_driver_frames(te.__context__, seen)
    for sub in getattr(te, "exceptions", None) or ():
        _strip_driver_frames(sub, seen)


def _bounded(text, limit):
    if len(text) <= limit:
        return text
    head = limit // 2
    tail = limit - head
    return "%s\n[... %d characters omitted ...]\n%s" % (text[:head], len(text) - limit,
                                                       text[-tail:])


def _format_error(exc):
    """Plain-text error report: a traceback for runtime errors (driver frames removed),
    the bare formatted exception for compile errors, IPython's one-liner for UsageError."""
    import traceback

    if isinstance(exc, _MagicsUnavailable):
        return str(exc)
    compile_phase = isinstance(exc, _CompileError)
    if compile_phase:
        exc = exc.exc
    cls = type(exc)
    if cls.__name__ == "UsageError" and cls.__module__.startswith("IPython"):
        return "UsageError: %s" % (exc,)
    try:
        te = traceback.TracebackException.from_exception(exc)
        _strip_driver_frames(te, set())
        lines = te.format_exception_only() if compile_phase else te.format()
        text = "".join(lines).rstrip("\n")
    except Exception as fmt_exc:  # a broken __str__ or the like
        text = "%s: <the exception could not be formatted: %r>" % (cls.__name__, fmt_exc)
    return _bounded(text, MAX_ERROR_CHARS)


# ---------------------------------------------------------------------------------------
# Magics: IPython is loaded on first use only.
# ---------------------------------------------------------------------------------------
_MAGIC_LINE = None


def _magic_line_re():
    global _MAGIC_LINE
    if _MAGIC_LINE is None:
        import re

        _MAGIC_LINE = re.compile(
            r"^[ \t]*(?:"
            r"[!%?]"  # !cmd, %magic, %%cell magic, ?obj
            r"|[\w.\[\]]+\?{1,2}[ \t]*$"  # obj? and obj??
            r"|[\w.]+(?:[ \t]*,[ \t]*[\w.]+)*[ \t]*=[ \t]*[!%]"  # x = !cmd, x = %magic
            r")")
    return _MAGIC_LINE


def _shell_path():
    return "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"


def _process_tree(root):
    """Pids of the living descendants of `root` (from /proc), children first."""
    children = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            found.append(child)
            stack.append(child)
    return found


def _stop_command(proc):
    """SIGINT to the command's process tree, SIGKILL to what is left after a second.

    The command is reaped only at the very end, so its pid cannot be recycled while it is
    being signalled (exit is polled with WNOWAIT).
    """
    import time

    first = [proc.pid] + _process_tree(proc.pid)
    for pid in first:
        try:
            os.kill(pid, signal.SIGINT)
        except OSError:
            pass
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                break
        except ChildProcessError:
            break
        time.sleep(0.01)
    for pid in set(first + _process_tree(proc.pid)):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    proc.wait()


def _run_shell_command(cmd, capture):
    """Runs `cmd` for `!cmd` / `x = !cmd`. Without `capture`, the command writes straight
    to fds 1/2, i.e. into the cell's output.

    The command stays in the kernel's process group, so Ship's group kill on restart
    reaches whatever it left behind; an interrupt stops the command's process tree
    (SIGINT as a terminal would send it, SIGKILL a second later) before re-raising.
    """
    import subprocess

    proc = subprocess.Popen([_shell_path(), "-c", cmd], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE if capture else None,
                            stderr=subprocess.STDOUT if capture else None)
    try:
        out = proc.communicate()[0] if capture else None
        code = proc.wait()
    except BaseException:
        global _interruptible
        # The clean-up must not itself be cut short by a repeated SIGINT.
        gate = _interruptible
        _interruptible = False
        try:
            _stop_command(proc)
        finally:
            _interruptible = gate
        raise
    if code > 128:  # IPython's convention: a signal N is reported as -N
        code = -(code - 128)
    return code, out


# ---------------------------------------------------------------------------------------
# The kernel.
# ---------------------------------------------------------------------------------------
class _Kernel:
    def __init__(self, cin, cout):
        self.cin = cin
        self.cout = cout
        self.pid = os.getpid()
        self.root = os.getcwd()
        self.count = 0
        self.silent_seq = 0
        self.future_flags = 0
        self.loop = None
        self.shell = None
        self.shell_error = None
        self.user_site = None
        self.ipython_available = False
        self.module = None
        self.ns = None
        # Capture objects of earlier cells whose reader is still draining (a background
        # process holds their pipe). Kept here so that they are freed in _execute's
        # non-interruptible part: freeing a Thread runs weakref callbacks, and a SIGINT
        # landing in one would print "Exception ignored ..." into a user's cell. For the
        # same reason the driver never leaves an exception -> traceback -> frame -> local
        # cycle behind: it would keep a finished cell's objects alive until the cyclic GC
        # frees them at some random point during a later cell.
        self.lingering = []

    # -- start-up (everything before "ready" must stay cheap) -----------------------------
    def setup(self):
        global _log_fd, _log_out_fd, _idle_fd
        import builtins
        import importlib.machinery

        for fd in (self.cin, self.cout):
            os.set_inheritable(fd, False)  # user code's children must not hold them
        os.register_at_fork(after_in_child=self._after_fork_in_child)

        # matplotlib must never try to open a window; MPLBACKEND is read on its import.
        os.environ.setdefault("MPLBACKEND", "Agg")

        # sys.path: the script's own directory out, the kernel root in (first).
        here = os.path.dirname(os.path.abspath(_DRIVER_FILE))
        if sys.path and sys.path[0] and os.path.abspath(sys.path[0]) == here:
            del sys.path[0]
        if self.root in sys.path:
            sys.path.remove(self.root)
        sys.path.insert(0, self.root)
        _install_fresh_source_hook(self.root)
        sys.meta_path.insert(0, _PostImportFinder({
            "matplotlib": _on_matplotlib_imported,
            "matplotlib.pyplot": _on_pyplot_imported,
        }))
        sys.argv = [""]
        try:
            import site

            if site.ENABLE_USER_SITE:
                self.user_site = site.getusersitepackages()
        except Exception:
            pass

        # Fds 1 and 2 become the capture pipe during cells; keep Ship's log privately.
        _log_out_fd = os.dup(1)
        _log_fd = os.dup(2)
        _idle_fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
        os.dup2(_idle_fd, 1)
        os.dup2(_idle_fd, 2)
        sys.stdout = sys.__stdout__ = _STDOUT
        sys.stderr = sys.__stderr__ = _STDERR

        # The user namespace is a fresh __main__ module (pickle and multiprocessing look
        # objects up through sys.modules["__main__"]).
        module = type(sys)("__main__")
        module.__dict__.update({"__builtins__": builtins, "__doc__": None,
                                "__package__": None, "__spec__": None, "__loader__": None})
        sys.modules["__main__"] = module
        self.module = module
        self.ns = module.__dict__
        builtins.display = display
        builtins.input = _no_input

        self.ipython_available = importlib.machinery.PathFinder.find_spec("IPython") is not None

    def ready_frame(self):
        # Formatted by hand: json is imported after "ready" to keep start-up short.
        return ('{"type":"ready","protocol":%d,"pid":%d,"python":"%d.%d.%d",'
                '"ipython_available":%s}' % ((PROTOCOL_VERSION, self.pid) + tuple(
                    sys.version_info[:3]) + ("true" if self.ipython_available else "false",)))

    def warm_up(self):
        # Modules every cell needs, imported while Ship has nothing for us yet.
        for name in ("__future__", "ast", "binascii", "importlib", "json", "linecache",
                     "threading", "traceback"):
            __import__(name)
        import faulthandler

        faulthandler.enable(file=_log_fd)  # a crash in C code leaves a trace in Ship's log
        # One silent cell through the whole path (compile, run, capture thread, result):
        # the first cell otherwise pays for first-time work (~1 ms); a pre-started kernel
        # (warm pool) does it before anyone waits. It leaves no trace: no execution count,
        # and the silent cell numbering starts again.
        try:
            self._execute(None, "None", True, 0)
        except BaseException as exc:
            _log("warm-up cell failed: %s" % _format_error(exc))
        self.silent_seq = 0

    def _after_fork_in_child(self):
        # A child forked by user code must never speak the protocol.
        for fd in (self.cin, self.cout):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- framing --------------------------------------------------------------------------
    def _read_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = os.read(self.cin, min(n - len(buf), 1 << 20))
            if not chunk:
                if buf:
                    raise EOFError("control pipe closed in the middle of a frame")
                return None
            buf += chunk
        return bytes(buf)

    def read_message(self):
        """The next message from Ship, None at end of stream."""
        header = self._read_exact(4)
        if header is None:
            return None
        length = int.from_bytes(header, "big")
        if length > MAX_FRAME:
            raise EOFError("frame of %d bytes exceeds the limit of %d" % (length, MAX_FRAME))
        payload = self._read_exact(length)
        if payload is None:
            raise EOFError("control pipe closed in the middle of a frame")
        return payload

    def send_raw(self, payload):
        if len(payload) > MAX_FRAME:
            raise ValueError("frame too large")
        _write_all(self.cout, len(payload).to_bytes(4, "big") + payload)

    @staticmethod
    def _encode(message):
        import json

        return json.dumps(message, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode("utf-8", "replace")

    def send(self, message):
        self.send_raw(self._encode(message))

    def send_result(self, result):
        try:
            payload = self._encode(result)
        except ValueError:  # not strict JSON; cannot happen with sanitised data
            payload = None
        if payload is None or len(payload) > MAX_FRAME:
            # JSON escaping can blow up control-character-heavy text (up to 6x).
            result["display"] = []
            result["images"] = []
            result["truncated"] = True
            result["text"] = result["text"][:1 << 20] + "\n[output truncated: result too large]"
            if result["error"] is not None:
                result["error"] = _bounded(result["error"], 1 << 16)
            payload = self._encode(result)
        self.send_raw(payload)

    # -- main loop ------------------------------------------------------------------------
    def serve(self):
        import json

        while True:
            payload = self.read_message()
            if payload is None:
                return
            try:
                message = json.loads(payload)
                if not isinstance(message, dict):
                    raise ValueError("a message must be a JSON object")
            except Exception as exc:
                self.send({"type": "error", "id": None, "error": "malformed message: %s" % exc})
                continue
            kind = message.get("type")
            if kind == "execute":
                self.send_result(self._execute_request(message))
            elif kind == "ping":
                self.send({"type": "pong", "id": self._safe_id(message)})
            else:
                self.send({"type": "error", "id": self._safe_id(message),
                           "error": "unknown message type %r" % (kind,)})

    @staticmethod
    def _safe_id(message):
        rid = message.get("id")
        return rid if _json_ok(rid) else None

    def _execute_request(self, message):
        rid = message.get("id")
        if not _json_ok(rid):
            rid = None
        code = message.get("code")
        silent = message.get("silent", False)
        limit = message.get("output_limit", DEFAULT_OUTPUT_LIMIT)
        if (not isinstance(code, str) or not isinstance(silent, bool)
                or not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            return self._result(rid, None, False, "", [], [], "invalid execute request: "
                                "needs code (string), silent (bool), output_limit (int >= 0)",
                                False, False)
        try:
            return self._execute(rid, code, silent, min(limit, MAX_OUTPUT_LIMIT))
        except BaseException as exc:  # a bug in the driver: still one answer per request
            _log("internal error while executing: %s" % _format_error(exc))
            return self._result(rid, None, False, "", [], [],
                                "internal kernel error: %s: %s" % (type(exc).__name__, exc),
                                False, False)

    @staticmethod
    def _result(rid, count, success, text, images, display_list, error, interrupted,
                truncated):
        return {"type": "result", "id": rid, "success": success, "execution_count": count,
                "text": text, "images": images, "display": display_list, "error": error,
                "interrupted": interrupted, "truncated": truncated}

    def _execute(self, rid, code, silent, limit):
        global _CELL, _interruptible, _interrupts
        import importlib

        if silent:
            count = None
            self.silent_seq += 1
            filename = "%ss%d>" % (CELL_PREFIX, self.silent_seq)
        else:
            self.count += 1
            count = self.count
            filename = "%s%d>" % (CELL_PREFIX, count)

        sys.stdout, sys.stderr = _STDOUT, _STDERR
        importlib.invalidate_caches()
        self._refresh_user_site()

        cell = _Cell()
        output = _CellOutput(limit)
        _CELL = cell
        _interrupts = 0
        output.start()
        try:
            exc = None
            try:
                try:
                    _interruptible = True
                    self._run(code, filename, silent)
                finally:
                    _interruptible = False
            except BaseException as e:
                exc = e
            if signal.getsignal(signal.SIGINT) is not _on_sigint:
                signal.signal(signal.SIGINT, _on_sigint)  # user code replaced our handler
            if os.getpid() != self.pid:
                self._exit_forked_child(exc)
            interrupted = _interrupts > 0
            if exc is None and cell.shown_exception is not None:
                exc = cell.shown_exception  # shown (and swallowed) by an IPython magic
            if exc is not None:
                interrupted = interrupted or isinstance(exc, KeyboardInterrupt)
                try:
                    # Figures of a failed cell are still shown, except after an interrupt:
                    # the answer must come quickly then.
                    _flush_figures(render=not interrupted)
                except Exception:
                    pass
            error = _format_error(exc) if exc is not None else None
            exc = None
            cell.shown_exception = None
        finally:
            exc = None
            _flush_c_stdio()
            raw, total = output.finish()
            _CELL = None
            self.lingering = [o for o in self.lingering if o.thread.is_alive()]
            if output.thread.is_alive():
                self.lingering.append(output)
            # Library code may have kept this frame alive in a reference cycle (an exception
            # it stored); the frame must not keep the capture thread with it.
            output = None

        text = raw.decode("utf-8", "replace")
        truncated = total > len(raw)
        if truncated and text.endswith("\ufffd"):
            text = text[:-1]  # a character cut in half by the limit
        text = text.strip()
        if truncated:
            text += "\n[output truncated: %d of %d bytes shown]" % (len(raw), total)
        return self._result(rid, count, error is None, text, cell.images, cell.display, error,
                            interrupted, truncated)

    @staticmethod
    def _exit_forked_child(exc):
        # A process forked by user code (os.fork, multiprocessing) came back into the
        # driver after the cell: it must never answer Ship.
        code = 1 if exc is not None else 0
        if isinstance(exc, SystemExit):
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        os._exit(code)

    def _refresh_user_site(self):
        # `%pip install --user x` creates ~/.local/lib/pythonX.Y/site-packages if needed;
        # make it importable without a kernel restart.
        site_dir = self.user_site
        if site_dir and site_dir not in sys.path and os.path.isdir(site_dir):
            import site

            site.addsitedir(site_dir)
            if site_dir in sys.path:
                sys.path.remove(site_dir)
            index = next((i for i, p in enumerate(sys.path)
                          if p.endswith(("site-packages", "dist-packages"))), len(sys.path))
            sys.path.insert(index, site_dir)

    # -- running a cell -------------------------------------------------------------------
    def _run(self, code, filename, silent):
        import ast
        import linecache

        source = code.replace("\r\n", "\n").replace("\r", "\n")  # as Python's tokenizer does
        if "IPython" in source or "get_ipython" in source:
            self._ensure_shell_quietly()
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            tree = ast.parse(source, filename)
        except SyntaxError as exc:
            source = self._transform_magics(source, exc)
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            try:
                tree = ast.parse(source, filename)
            except Exception as exc2:
                raise _CompileError(exc2) from None
        except Exception as exc:  # e.g. ValueError for NUL bytes, RecursionError
            raise _CompileError(exc) from None

        shell = self.shell
        info = _shell_pre_run(shell, code, silent, self.count) if shell is not None else None
        failure = None
        try:
            body = tree.body
            last = body.pop() if body and isinstance(body[-1], ast.Expr) else None
            try:
                flags = _PYCF_ALLOW_TOP_LEVEL_AWAIT | self.future_flags
                body_code = compile(ast.Module(body, type_ignores=[]), filename, "exec", flags,
                                    True)
                self.future_flags |= body_code.co_flags & self._future_mask()
                last_code = None
                if last is not None:
                    last_code = compile(ast.Expression(last.value), filename, "eval",
                                        flags | self.future_flags, True)
            except Exception as exc:
                raise _CompileError(exc) from None

            self._run_code(body_code)
            if last_code is not None:
                value = self._run_code(last_code)
                if value is not None and not silent and not self._quiet(source, last):
                    self.ns["___"] = self.ns.get("__", "")
                    self.ns["__"] = self.ns.get("_", "")
                    self.ns["_"] = value
                    _emit_bundle(_format_bundle(value))
            _flush_figures(render=True)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            try:
                if shell is not None:
                    _shell_post_run(shell, info, silent, failure)
            finally:
                failure = None  # no exception -> frame -> exception cycle (see _Kernel)

    def _future_mask(self):
        import __future__

        mask = 0
        for name in __future__.all_feature_names:
            mask |= getattr(__future__, name).compiler_flag
        return mask

    @staticmethod
    def _quiet(source, last):
        """True when the trailing expression is followed by ';' (IPython's rule)."""
        lines = source.split("\n")
        line = lines[last.end_lineno - 1].encode("utf-8")[last.end_col_offset:]
        rest = [line.decode("utf-8", "replace")] + lines[last.end_lineno:]
        for text in rest:
            text = text.strip()
            if text and not text.startswith("#"):
                return text.startswith(";")
        return False

    def _run_code(self, code):
        if code.co_flags & _CO_COROUTINE:
            return self._run_coroutine(eval(code, self.ns))
        return eval(code, self.ns)

    def _run_coroutine(self, coro):
        # Top-level await: one event loop for the life of the kernel, not running between
        # cells (so asyncio.run() in a cell works as in a script).
        import asyncio

        if self.loop is None or self.loop.is_closed():
            self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        task = self.loop.create_task(coro)
        coro = None
        try:
            return self.loop.run_until_complete(task)
        except BaseException:
            if not task.done():
                task.cancel()
                try:
                    self.loop.run_until_complete(asyncio.wait([task], timeout=1.0))
                except BaseException:
                    pass
            raise
        finally:
            task = None  # the task holds the exception whose traceback holds this frame

    # -- magics ---------------------------------------------------------------------------
    def _transform_magics(self, source, syntax_error):
        """Rewrites an IPython cell (magics, !commands, help?) as Python source, or
        re-raises the syntax error as a compile error if it is not one."""
        pattern = _magic_line_re()
        lines = source.split("\n")
        if not any(pattern.match(line) for line in lines):
            raise _CompileError(syntax_error) from None
        if not self.ipython_available:
            lineno = syntax_error.lineno or 0
            if 1 <= lineno <= len(lines) and not pattern.match(lines[lineno - 1]):
                raise _CompileError(syntax_error) from None
            raise _MagicsUnavailable("UsageError: IPython magics need IPython, which is not "
                                     "installed in this interpreter")
        shell = self._ensure_shell()
        shell.execution_count = self.count
        try:
            return shell.transform_cell(source)
        except Exception as exc:
            raise _CompileError(exc) from None

    def _ensure_shell_quietly(self):
        if self.ipython_available and self.shell is None and self.shell_error is None:
            try:
                self._ensure_shell()
            except _MagicsUnavailable:
                pass

    def _ensure_shell(self):
        if self.shell is not None:
            return self.shell
        if self.shell_error is not None:
            raise _MagicsUnavailable(self.shell_error)
        try:
            self.shell = _create_shell(self)
        except Exception as exc:
            _log("loading IPython failed: %s" % _format_error(exc))
            self.shell_error = ("UsageError: IPython magics are unavailable: IPython could not "
                                "be loaded (%s: %s)" % (type(exc).__name__, exc))
            raise _MagicsUnavailable(self.shell_error) from None
        return self.shell

    def note_shown_exception(self, exc):
        cell = _CELL
        if cell is not None and cell.shown_exception is None and exc is not None:
            cell.shown_exception = exc


def _shell_pre_run(shell, raw_cell, silent, count):
    """IPython's pre-cell events, so extensions such as autoreload work."""
    from IPython.core.interactiveshell import ExecutionInfo

    shell.execution_count = count
    info = ExecutionInfo(raw_cell, not silent, silent, True, None)
    shell.events.trigger("pre_execute")
    if not silent:
        shell.events.trigger("pre_run_cell", info)
    return info


def _shell_post_run(shell, info, silent, failure):
    from IPython.core.interactiveshell import ExecutionResult

    result = ExecutionResult(info)
    result.execution_count = None if silent else shell.execution_count
    if isinstance(failure, _CompileError):
        result.error_before_exec = failure.exc
    else:
        result.error_in_exec = failure
    shell.events.trigger("post_execute")
    if not silent:
        shell.events.trigger("post_run_cell", result)


def _ipython_dir():
    """IPython's profile directory: $IPYTHONDIR, else one private directory per uid in the
    temporary directory (IPython must not write into the cargo, which is $HOME)."""
    import stat
    import tempfile

    if os.environ.get("IPYTHONDIR"):
        return os.environ["IPYTHONDIR"]
    path = os.path.join(tempfile.gettempdir(), "shipyard-ipython-%d" % os.getuid())
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return tempfile.mkdtemp(prefix="shipyard-ipython-")
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
        return path
    return tempfile.mkdtemp(prefix="shipyard-ipython-")  # not ours: do not trust it


def _create_shell(kernel):
    """An IPython InteractiveShell over the kernel's namespace, used for its input
    transformations and magics only: cells still run through the driver, so output
    capture and error reports stay the same with and without magics."""
    # IPython's package import pulls in jedi (for completion, unused here): about 80 ms
    # and 5 MiB. Hide it during the import unless user code already loaded it.
    hide_jedi = "jedi" not in sys.modules
    if hide_jedi:
        sys.modules["jedi"] = None
    try:
        return _create_shell_unlocked(kernel)
    finally:
        if hide_jedi and "jedi" in sys.modules and sys.modules["jedi"] is None:
            del sys.modules["jedi"]


def _create_shell_unlocked(kernel):
    import builtins

    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.text import LSString, SList
    from traitlets.config import Config

    class ShipDisplayPublisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False,
                    **kwargs):
            _emit_bundle(data)

        def clear_output(self, wait=False):
            pass

    class ShipShell(InteractiveShell):
        def init_completer(self):
            self.Completer = None  # completion is unused here; jedi is slow to import

        def init_virtualenv(self):
            pass

        def system(self, cmd):
            cmd = self.var_expand(cmd, depth=1)
            self.user_ns["_exit_code"] = _run_shell_command(cmd, capture=False)[0]

        system_piped = system
        system_raw = system

        def getoutput(self, cmd, split=True, depth=0):
            cmd = self.var_expand(cmd, depth=depth + 1)
            out = _run_shell_command(cmd, capture=True)[1].decode("utf-8", "replace")
            return SList(out.splitlines()) if split else LSString(out)

        def showtraceback(self, exc_tuple=None, filename=None, tb_offset=None,
                          exception_only=False, running_compiled_code=False):
            value = exc_tuple[1] if exc_tuple else sys.exc_info()[1]
            kernel.note_shown_exception(value)

        def showsyntaxerror(self, filename=None, running_compiled_code=False):
            kernel.note_shown_exception(sys.exc_info()[1])

        def enable_matplotlib(self, gui=None):
            return gui, "agg"  # figures are always collected inline

        def enable_gui(self, gui=None):
            pass

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "NoColor"
    ipython_dir = _ipython_dir()
    before = {k: kernel.ns.get(k) for k in ("exit", "quit", "open")}
    shell = ShipShell.instance(config=config, user_module=kernel.module, user_ns=kernel.ns,
                               ipython_dir=ipython_dir)
    shell.display_pub = ShipDisplayPublisher(parent=shell, shell=shell)

    def show_in_pager(self, data, start=0, screen_lines=0):
        if isinstance(data, dict):
            data = data.get("text/plain", "")
        print(data)

    shell.set_hook("show_in_pager", show_in_pager)
    # IPython's exit/quit only set a flag and its open() differs from the builtin; keep
    # Python's, and keep the driver's display().
    for name, value in before.items():
        if value is None:
            kernel.ns.pop(name, None)
        else:
            kernel.ns[name] = value
    builtins.display = display
    return shell


def _parse_args(argv):
    fds = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--control-in", "--control-out") and i + 1 < len(argv):
            fds[arg] = int(argv[i + 1])
            i += 2
        else:
            raise ValueError("unexpected argument %r" % arg)
    if len(fds) != 2:
        raise ValueError("usage: shipyard_kernel.py --control-in FD --control-out FD")
    return fds["--control-in"], fds["--control-out"]


def main(argv):
    try:
        cin, cout = _parse_args(argv)
        os.fstat(cin)
        os.fstat(cout)
    except (ValueError, OSError) as exc:
        _log("bad invocation: %s" % exc)
        return 2
    kernel = _Kernel(cin, cout)
    kernel.setup()
    kernel.send_raw(kernel.ready_frame().encode("ascii"))
    kernel.warm_up()
    try:
        kernel.serve()
    except EOFError as exc:
        _log("protocol error: %s" % exc)
        os._exit(2)
    except BrokenPipeError:
        _log("Ship closed the control pipe")
        os._exit(0)
    except BaseException as exc:
        _log("driver failure: %s" % _format_error(exc))
        os._exit(1)
    # End of the control stream: a normal interpreter exit so that user files get
    # flushed and atexit handlers run (their output goes to Ship's log), with an alarm
    # in case user threads never end.
    os.dup2(_log_out_fd, 1)
    os.dup2(_log_fd, 2)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

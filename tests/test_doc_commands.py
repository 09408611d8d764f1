"""Every shell command in README.md and docs/*.md, run verbatim, in the order each page gives them.

A page's `bash`, `sh`, `shell` and `console` code blocks are its commands (in a `console` block,
the lines after `$ `, with `\\` continuations; the other lines are shown output). Each page runs
in a fresh working directory with its own `HOME` and `VMX_HOME`, against the embedded engine that
the first command starts, with the `vmx` of this interpreter's environment first on `PATH`. Each
block is one `bash -o pipefail` script (a variable set early in a block holds later in it), and
each command must exit 0; where the page shows `exit=N` after a command that echoes its `$?`,
that line must be printed.

An HTML comment right before a block says how to treat it (a reader of the page never sees it):

- `<!-- not run: REASON -->`: it cannot run here (an install, a remote server, the internet).
  Those blocks are listed by `test_blocks_not_run`, each skipped with its page, line and reason.
- `<!-- live: Ctrl-C once it shows "TEXT" -->`: a view or server that runs until stopped; its one
  command runs on a pseudo-terminal (100x30), must show TEXT within a minute while it runs, and
  must exit 0 on the Ctrl-C typed a second later.
- `<!-- save as: NAME -->` before any block: the page tells the reader to save it as NAME (a
  strategy file, an order file); the test writes it to the working directory at that point.
- `<!-- files: NAME ... -->`: the block uses example files the page does not make itself; the
  test writes them first (`FILES` below says from what).

A fenced block without one of those languages that holds a `vmx` command fails the test: it
would never be run.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
MARKER = re.compile(r"^<!--\s*(?P<kind>not run|live|files|save as):\s*(?P<value>.*?)\s*-->$")
LIVE = re.compile(r'^Ctrl-C once it shows "(?P<text>[^"]+)"$')
LIVE_TIMEOUT = 60.0
ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Z0-9]|[=>])")
SHOWN_EXIT = re.compile(r"^exit=(\d+)$")
BLOCK_TIMEOUT = 90.0


def _python_block_after(page: str, heading: str) -> str:
    """The first ```python block after HEADING on a page."""
    text = (ROOT / page).read_text(encoding="utf-8")
    rest = text[text.index(heading) :]
    start = rest.index("```python\n") + len("```python\n")
    return rest[start : rest.index("\n```", start) + 1]


def _trades_csv() -> str:
    """A trades CSV as docs/backtests.md describes it: a gentle rise, a dip, a recovery."""
    rows = ["timestamp,price,quantity,side"]
    for second in range(600):
        cents = 6_000_000 + 400 * ((second * 7) % 50) - (60_000 if 200 <= second < 260 else 0)
        side = "buy" if second % 3 else "sell"
        rows.append(f"{1_767_225_600 + second},{cents // 100}.{cents % 100:02d},0.01,{side}")
    return "\n".join(rows) + "\n"


def _binance_trades_csv() -> str:
    """The .csv inside data.binance.vision's BTCUSDT-trades-2026-09-01.zip: no header; id,
    price, qty, quoteQty, time (microseconds, as spot files from 2025 on), isBuyerMaker,
    isBestMatch. Ten minutes of a market that rises, dips and recovers."""
    rows = []
    start = 1_788_220_800_000_000  # 2026-09-01T00:00:00Z in microseconds
    for second in range(600):
        cents = 6_000_000 + 400 * ((second * 7) % 50) - (60_000 if 200 <= second < 260 else 0)
        price = f"{cents // 100}.{cents % 100:02d}"
        quote = f"{cents * 10 // 100_000}.{cents * 10 % 100_000:05d}"  # price * 0.01000
        maker = "True" if second % 3 else "False"
        at = start + second * 1_000_000
        rows.append(f"{4_000_000 + second},{price},0.01000,{quote},{at},{maker},True")
    return "\n".join(rows) + "\n"


# The example files pages may name in `<!-- files: ... -->`, and what the test writes for them.
FILES: dict[str, Callable[[], str]] = {
    "my_strategy.py": lambda: _python_block_after("docs/strategies.md", "## A complete user"),
    "trades.csv": _trades_csv,
    "BTCUSDT-trades-2026-09-01.csv": _binance_trades_csv,
}


@dataclass
class Command:
    text: str
    line: int
    shown_exit: int | None = None


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    commands: list[Command] = field(default_factory=list)
    not_run: str | None = None
    live_until: str | None = None
    files: list[str] = field(default_factory=list)
    save_as: str | None = None
    content: str = ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


UNFENCED: list[str] = []


def parse(page: Path) -> list[Block]:
    """The shell blocks of a page, in order, with their commands and markers."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    markers: list[tuple[str, str]] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = MARKER.match(line.strip())
        fence = FENCE.match(line)
        if marker:
            markers.append((marker["kind"], marker["value"]))
            index += 1
            continue
        if not fence:
            if line.strip():
                markers = []
            index += 1
            continue
        end = index + 1
        while end < len(lines) and not lines[end].startswith(fence["fence"]):
            end += 1
        body = lines[index + 1 : end]
        lang = fence["lang"].lower()
        if lang in SHELL:
            block = Block(page, index + 1, lang, _commands(body, index + 2, lang == "console"))
            for kind, value in markers:
                if kind == "not run":
                    block.not_run = value
                elif kind == "files":
                    block.files = value.replace(",", " ").split()
                else:
                    live = LIVE.match(value)
                    assert live, f'{block.where}: a live marker reads `Ctrl-C once it shows "X"`'
                    block.live_until = live["text"]
            blocks.append(block)
        elif save_as := dict(markers).get("save as"):
            content = "\n".join(body) + "\n"
            blocks.append(Block(page, index + 1, lang, save_as=save_as, content=content))
        elif any(re.match(r"^(\$ )?vmx\b", row.strip()) for row in body):
            UNFENCED.append(
                f"{page.relative_to(ROOT)}:{index + 1}: a code block holds vmx commands but is "
                f"fenced as {lang or 'plain text'!r}: fence it as bash or console so it is run"
            )
        markers = []
        index = end + 1
    return blocks


def _commands(body: list[str], first_line: int, console: bool) -> list[Command]:
    commands: list[Command] = []
    pending: list[str] = []
    start = 0
    for offset, raw in enumerate(body):
        if pending:
            pending.append(raw)
        elif console and raw.startswith("$ "):
            pending, start = [raw[2:]], first_line + offset
        elif not console and raw.strip() and not raw.lstrip().startswith("#"):
            pending, start = [raw], first_line + offset
        elif console and commands and (shown := SHOWN_EXIT.match(raw.strip())):
            commands[-1].shown_exit = int(shown[1])
            continue
        else:
            continue
        if not raw.rstrip().endswith("\\"):
            commands.append(Command("\n".join(pending), start))
            pending = []
    assert not pending, f"line {start}: a command ends in a continuation"
    return commands


ALL_BLOCKS = [block for page in PAGES for block in parse(page)]


@dataclass
class Outcome:
    command: Command
    status: int | None
    stdout: str
    stderr: str


def run_block(block: Block, cwd: Path, env: dict[str, str]) -> list[Outcome]:
    """Runs a block's commands as one bash script; each command's output and status apart."""
    out = cwd.parent / "out"
    out.mkdir(exist_ok=True)
    script = ["set -o pipefail"]
    for number, command in enumerate(block.commands):
        script += [
            "{",
            command.text,
            f"}} >{out}/{number}.out 2>{out}/{number}.err </dev/null",
            f"echo $? >{out}/{number}.rc",
        ]
    shell = subprocess.Popen(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a command that hangs is stopped with all it started
    )
    try:
        shell.wait(timeout=BLOCK_TIMEOUT)
    except subprocess.TimeoutExpired:  # the command without a status is the one that hung
        os.killpg(shell.pid, signal.SIGKILL)
        shell.wait()
    outcomes = []
    for number, command in enumerate(block.commands):
        rc = out / f"{number}.rc"
        outcomes.append(
            Outcome(
                command,
                int(rc.read_text()) if rc.exists() else None,
                _read(out / f"{number}.out"),
                _read(out / f"{number}.err"),
            )
        )
        for path in out.glob(f"{number}.*"):
            path.unlink()
    return outcomes


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def run_live(block: Block, cwd: Path, env: dict[str, str]) -> Outcome:
    """The block's one command on a pseudo-terminal, stopped with Ctrl-C a second after it shows
    its marker's text (a view that is up and drawing, a server that listens)."""
    assert len(block.commands) == 1, f"{block.where}: a live block holds one command"
    assert block.live_until is not None
    command = block.commands[0]
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal
        try:
            os.chdir(cwd)
            os.execvpe("bash", ["bash", "-c", command.text], env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # 100x30
    seen = bytearray()

    def drain() -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            seen.extend(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + LIVE_TIMEOUT
        while block.live_until not in ESCAPE.sub("", seen.decode(errors="replace")):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:  # it stopped by itself: not a live view
                return Outcome(command, os.waitstatus_to_exitcode(status), "", _text(seen))
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return Outcome(command, None, "", _text(seen))
            time.sleep(0.1)
        time.sleep(1)  # a frame or two more
        os.write(fd, b"\x03")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                reader.join(timeout=2)
                return Outcome(command, os.waitstatus_to_exitcode(status), "", _text(seen))
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return Outcome(command, None, "", _text(seen))
    finally:
        os.close(fd)


def _text(data: bytearray) -> str:
    return data.decode(errors="replace")[-4000:]


@pytest.fixture
def page_env(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A fresh working directory, HOME and VMX_HOME; the page's engine stopped at the end."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    scripts = str(Path(sys.executable).parent)
    assert (Path(scripts) / "vmx").exists(), f"no vmx in {scripts}: pip install -e '.[test]' there"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VMX_", "XDG_")) and key not in {"FORCE_COLOR", "NO_COLOR"}
    }
    env.update(
        HOME=str(tmp_path / "home"),
        VMX_HOME=str(tmp_path / "vmx-home"),
        PATH=scripts + os.pathsep + env.get("PATH", ""),
        COLUMNS="100",
        LINES="30",
        TERM="xterm-256color",
    )
    (tmp_path / "home").mkdir()
    yield cwd, env
    if (tmp_path / "vmx-home").exists():  # the page's commands may have started an engine
        subprocess.run(["vmx", "engine", "stop"], env=env, capture_output=True, timeout=60)


def _failure(block: Block, outcome: Outcome, why: str) -> str:
    command = outcome.command
    return (
        f"{block.page.relative_to(ROOT)}:{command.line}: {why}\n$ {command.text}\n"
        f"--- stdout\n{outcome.stdout[-3000:]}\n--- stderr\n{outcome.stderr[-3000:]}"
    )


def check(block: Block, outcome: Outcome) -> str | None:
    """What is wrong with a command's outcome, or None."""
    if outcome.status is None and block.live_until is not None:
        return _failure(block, outcome, f"did not show {block.live_until!r} and stop on Ctrl-C")
    if outcome.status is None:
        return _failure(block, outcome, f"did not finish within {BLOCK_TIMEOUT:.0f} s")
    if outcome.status != 0:
        return _failure(block, outcome, f"exit {outcome.status}, the page expects 0")
    shown = outcome.command.shown_exit
    if shown is not None and f"exit={shown}" not in outcome.stdout.splitlines():
        return _failure(block, outcome, f"the page shows exit={shown}")
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_page_commands_run_as_written(
    page: Path, page_env: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    cwd, env = page_env
    blocks = [block for block in ALL_BLOCKS if block.page == page]
    where = f"{page.relative_to(ROOT)}:"
    assert not [problem for problem in UNFENCED if problem.startswith(where)], UNFENCED
    failures: list[str] = []
    ran = 0
    for block in blocks:
        if block.not_run is not None:
            assert block.not_run, f"{block.where}: say why the block is not run"
            continue
        if block.save_as is not None:
            (cwd / block.save_as).write_text(block.content, encoding="utf-8")
            continue
        for name in block.files:
            assert name in FILES, f"{block.where}: the test does not know how to make {name}"
            (cwd / name).write_text(FILES[name](), encoding="utf-8")
        if block.live_until is not None:
            outcomes = [run_live(block, cwd, env)]
        else:
            outcomes = run_block(block, cwd, env)
        ran += len(outcomes)
        failures += [problem for outcome in outcomes if (problem := check(block, outcome))]
    with capsys.disabled():
        print(f"\n{page.relative_to(ROOT)}: {ran} commands run")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(
    "block",
    [block for block in ALL_BLOCKS if block.not_run is not None],
    ids=lambda block: block.where,
)
def test_blocks_not_run(block: Block) -> None:
    """Lists each block the pages mark as not run, with its reason (see `pytest -ra`)."""
    assert block.not_run, f"{block.where}: a `not run` marker must say why"
    commands = "; ".join(command.text.splitlines()[0] for command in block.commands)
    pytest.skip(f"{block.where} not run ({block.not_run}): {commands}")


def test_readme_test_command_is_what_ci_runs() -> None:
    """The README's set-up command for the test suite installs and runs what `.ci/run` does."""
    blocks = [block for block in ALL_BLOCKS if block.page.name == "README.md" and block.not_run]
    setup = next(b for b in blocks if "pytest" in b.commands[0].text).commands[0].text
    steps = [step.strip() for step in setup.split("&&")]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for step in steps:
        if step.startswith(("pip install", "python -m pytest")):
            assert any(line.strip().endswith(step) for line in ci), f"{step!r} is not in .ci/run"


LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to -."""
    anchors = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_links_between_pages_resolve(page: Path) -> None:
    """Every relative link of a page names a file that exists, and a heading there."""
    broken = []
    for match in LINK.finditer(page.read_text(encoding="utf-8")):
        target = match["target"]
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)

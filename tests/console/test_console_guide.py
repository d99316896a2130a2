"""docs/console.md: its commands run as written in a scratch folder (the console on a free port).

Trains the fraud model (~1-2 min on 2 cores) and runs fraud-embedded with the console for 20 s.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "console.md"
LAUNCH = "from inferstream.cli.main import main; main()"


@pytest.mark.slow
def test_the_guides_commands_run_and_print_the_consoles_address(tmp_path: Path, repo_root: Path) -> None:
    shutil.copytree(repo_root / "data", tmp_path / "data")
    (block,) = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    outputs = []
    for line in block.strip().splitlines():
        command = shlex.split(line, comments=True)
        assert command[0] == "inferstream"
        if "--console" in command:  # the guide's port may be taken here: any free one
            command[command.index("--console") + 1] = "0"
        done = subprocess.run([sys.executable, "-c", LAUNCH, *command[1:]], cwd=tmp_path, capture_output=True,
                              text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
        assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        outputs.append(done.stdout)
    assert re.search(r"console: http://127\.0\.0\.1:\d+/", outputs[-1])
    assert "card-ingress" in outputs[-1]  # the run's table at the end

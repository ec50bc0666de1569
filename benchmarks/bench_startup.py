"""CLI start-up: wall time of whole `violet` processes (help, check), median and best of 7 runs."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time

COMMANDS = ["violet --help", "violet check graphs/blue_sizing.toml", "violet check graphs/blue_decision.toml"]


def main() -> None:
    assert shutil.which("violet"), "install first: pip install -c requirements.lock -e ."
    for command in COMMANDS:
        times = []
        for _ in range(7):
            start = time.perf_counter()
            subprocess.run(command.split(), capture_output=True, check=True)
            times.append(time.perf_counter() - start)
        print(f"{command:45s} median {statistics.median(times) * 1000:.0f} ms  best {min(times) * 1000:.0f} ms")


if __name__ == "__main__":
    main()

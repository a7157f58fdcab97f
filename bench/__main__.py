"""``make bench``: run every benchmark in bench/, each against its own floor.

The smart-list benchmark needs the 200k-customer / 2M-order demo database; it is built
once into bench/bench.sqlite (git-ignored) with ``flask demo load``. Every benchmark
prints its figures and merges them into bench/results.json; none asserts on time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH_DB = HERE / "bench.sqlite"
# name -> needs the big demo database
BENCHMARKS = {
    "lists": True,
    "send": False,
    "smtp": False,
    "sms_inbound": False,
    "load": False,
    "flows": False,
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DECANT_ENV", "development")
    env.setdefault("DECANT_INSTANCE_PATH", str(HERE / ".instance"))
    env["PYTHONPATH"] = str(ROOT)
    return env


def _flask(*args: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, check=True
    )


def ensure_demo_database(env: dict[str, str]) -> dict[str, str]:
    env = {**env, "DATABASE_URL": f"sqlite:///{BENCH_DB}"}
    if not BENCH_DB.exists():
        _flask("db", "upgrade", "heads", env=env)
        _flask("demo", "load", "--customers", "200000", "--orders", "2000000", env=env)
    return env


def main(selected: list[str]) -> int:
    env = _env()
    failures = 0
    for name, needs_demo in BENCHMARKS.items():
        if selected and name not in selected:
            continue
        script = HERE / f"{name}.py"
        if not script.exists():
            continue
        run_env = ensure_demo_database(env) if needs_demo else env
        print(f"\n== bench/{name}.py", flush=True)
        result = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=run_env)
        failures += result.returncode != 0
    print(f"\nfigures written to {HERE / 'results.json'}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

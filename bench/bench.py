#!/usr/bin/env python3
"""lake against its peers, in one run: see bench/README.md.

Called by bench/run, which installs the peers, builds lake and starts the
test servers (their env.sh is sourced into our environment). Standard
library only. Every timed command is a child process; its wall time is taken
around fork..wait4 and its peak RSS from wait4's rusage (ru_maxrss, KiB).
"""

import argparse
import re
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DATA = BENCH / "data"


def fs_type(path):
    """The filesystem type of the mount holding path (Linux), or None."""
    path, best, kind = str(Path(path).resolve()), "", None
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        fields = line.split()
        if len(fields) > 2 and (path == fields[1] or path.startswith(fields[1].rstrip("/") + "/")):
            if len(fields[1]) >= len(best):
                best, kind = fields[1], fields[2]
    return kind


def pick_work():
    """Where timed commands write. A tmpfs when there is room: on this
    machine's ext4 volume (no journal) the cost of creating a file varies
    20-fold with how many were deleted in the last half minute, and writing
    into page cache the guest has not touched yet costs several times more
    than reusing freed pages; both sides would pay that by chance, not by
    their code. BENCH_WORK overrides."""
    if os.environ.get("BENCH_WORK"):
        return Path(os.environ["BENCH_WORK"])
    shm = Path("/dev/shm")
    if shm.is_dir() and fs_type(shm) == "tmpfs" and shutil.disk_usage(shm).free >= 16 << 30:
        return shm / "lake-bench-work"
    return DATA / "work"


WORK = pick_work()
WORK_ON_TMPFS = fs_type(WORK.parent) == "tmpfs"
LAKE = str(ROOT / "target/release/lake")
CHAIN = str(ROOT / "target/release/examples/chain")
CLUSTER = str(ROOT / "target/release/examples/cluster")
VENV = BENCH / ".venv/bin"
DVC = str(VENV / "dvc")
AWS = str(VENV / "aws")
VPY = str(VENV / "python")
B3SUM = os.environ.get("BENCH_B3SUM", "b3sum")
TIME = "/usr/bin/time"
# bench/run starts its own servers below bench/data/servers, so that a test
# run elsewhere in the workspace (scripts/test restarts target/test-servers)
# cannot stop them mid-run.
SERVERS = Path(os.environ.get("BENCH_SERVERS_ROOT", ROOT / "target/test-servers"))
BUCKET = "lake-test"

# rep_budget_s: a repeated loop stops after a rep that took longer than this
# (the table's runs column shows it), so the whole run keeps to its time.
FULL = dict(big_mib=1024, small_n=10_000, ls_big_n=100_000, chain_n=100, stations=20, reps=3, rep_budget_s=75)
QUICK = dict(big_mib=64, small_n=500, ls_big_n=5_000, chain_n=10, stations=4, reps=3, rep_budget_s=4)


def reps_of(cfg):
    """Yields rep numbers, stopping early after a rep over the budget."""
    for rep in range(cfg["reps"]):
        t0 = time.perf_counter()
        yield rep
        took = time.perf_counter() - t0
        if took > cfg["rep_budget_s"] and rep + 1 < cfg["reps"]:
            log(f"a rep took {took:.0f} s > {cfg['rep_budget_s']} s: no more reps of this scenario")
            return


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ running


class Failed(Exception):
    pass


def run(cmd, env=None, cwd=None, out=None):
    """Runs cmd (a list, or a str for bash -c); returns (secs, rss_kib, stdout).

    The peak RSS comes from /usr/bin/time -f %M: a child forked from this
    Python process would report the harness's own RSS as its floor (Linux
    keeps the pre-exec high-water mark), while one forked by `time` does not.
    Wall time is taken here, around fork..wait, the same for every side.
    """
    if isinstance(cmd, str):
        cmd = ["bash", "-c", cmd]
    with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se, \
            tempfile.NamedTemporaryFile("r") as rss_file:
        t0 = time.perf_counter()
        p = subprocess.Popen([TIME, "-f", "%M", "-o", rss_file.name, *cmd], env=env, cwd=cwd,
                             stdin=subprocess.DEVNULL, stdout=out or so, stderr=se)
        _, status, usage = os.wait4(p.pid, 0)
        secs = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        so.seek(0)
        se.seek(0)
        stdout = so.read().decode(errors="replace")
        if p.returncode != 0:
            raise Failed(f"{' '.join(map(str, cmd))[:200]} (in {cwd}) exited {p.returncode}: "
                         f"{se.read().decode(errors='replace')[-1500:]}")
        lines = rss_file.read().split()
        rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        return secs, rss, stdout


def sh(cmd, env=None, cwd=None):
    return run(cmd, env=env, cwd=cwd)[2]


TRASH = WORK / "trash"


def fresh(path):
    """An empty directory at path. Off tmpfs an old one is moved aside, not
    deleted: on ext4, creating files right after deleting thousands is slow
    (the inode allocator steps over recently freed inodes), which would
    charge the next timed command for the last one's cleanup. empty_trash()
    deletes them between phases, untimed."""
    discard(path)
    Path(path).mkdir(parents=True)
    return Path(path)


def discard(path):
    """Deletes path (a file or a tree) on a tmpfs, where deleting costs
    nothing later; elsewhere moves it to the trash, if it exists."""
    path = Path(path)
    if WORK_ON_TMPFS and path.exists():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    elif path.exists():
        TRASH.mkdir(parents=True, exist_ok=True)
        path.rename(TRASH / f"{path.name}-{uuid.uuid4().hex[:8]}")


def empty_trash():
    shutil.rmtree(TRASH, ignore_errors=True)
    sh("sync")


def base_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKE_STORE_OPT_")}
    env.pop("LAKE_STORE", None)
    env.pop("LAKE_HOME", None)
    env.update(DVC_NO_ANALYTICS="1", DVC_NO_UPDATE_CHECK="1", GIT_CONFIG_NOSYSTEM="1")
    return env


def lake_env(home, store=None, server=None):
    env = base_env()
    env["LAKE_HOME"] = str(home)
    if store:
        env["LAKE_STORE"] = store
    if server:
        for kv in os.environ[f"LAKE_TEST_{server}_OPTS"].split(","):
            k, v = kv.split("=", 1)
            env[f"LAKE_STORE_OPT_{k.upper()}"] = v
    return env


def s3_opts(server):
    return dict(kv.split("=", 1) for kv in os.environ[f"LAKE_TEST_{server}_OPTS"].split(","))


def aws_env(server):
    o = s3_opts(server)
    env = base_env()
    env.update(AWS_ACCESS_KEY_ID=o["aws_access_key_id"], AWS_SECRET_ACCESS_KEY=o["aws_secret_access_key"],
               AWS_DEFAULT_REGION=o["aws_region"], AWS_REQUEST_CHECKSUM_CALCULATION="when_required",
               AWS_RESPONSE_CHECKSUM_VALIDATION="when_required", AWS_EC2_METADATA_DISABLED="true")
    return env


def aws(server, *args):
    return [AWS, "--endpoint-url", s3_opts(server)["aws_endpoint"], "s3", *args, "--only-show-errors"]


def dvc_repo(path, remote=None, server=None):
    """A fresh DVC repo (git, so `dvc ls` works) with an optional S3 remote."""
    path = fresh(path)
    env = base_env()
    sh("git init -q && git config user.email b@b && git config user.name bench", cwd=path)
    sh([DVC, "init", "-q"], env=env, cwd=path)
    sh([DVC, "config", "core.autostage", "false"], env=env, cwd=path)
    if remote:
        o = s3_opts(server)
        sh([DVC, "remote", "add", "-d", "s3", remote], env=env, cwd=path)
        for k, v in [("endpointurl", o["aws_endpoint"]), ("access_key_id", o["aws_access_key_id"]),
                     ("secret_access_key", o["aws_secret_access_key"]), ("region", o["aws_region"])]:
            sh([DVC, "remote", "modify", "--local", "s3", k, v], env=env, cwd=path)
    return path


# ------------------------------------------------------------------ results


class Sides:
    """Timings of each side of one scenario, collected rep by rep."""

    def __init__(self):
        self.t, self.rss, self.failed = {}, {}, {}

    def time(self, side, cmd, env=None, cwd=None, check=None):
        """Times cmd; a failure is recorded against the side, which is then skipped."""
        if side in self.failed:
            return None
        try:
            secs, rss, out = run(cmd, env=env, cwd=cwd)
            if check:
                check(out)
        except Failed as e:
            self.fail(side, e)
            return None
        self.add(side, secs, rss)
        return out

    def fail(self, side, error):
        msg = " ".join(str(error).split())
        log(f"{side} failed: {msg[:1500]}")
        self.failed.setdefault(side, msg)

    def add(self, side, secs, rss_kib=0):
        self.t.setdefault(side, []).append(secs)
        self.rss[side] = max(self.rss.get(side, 0), rss_kib)

    def med(self, side):
        return statistics.median(self.t[side]) if side in self.t else None


ROWS = []


def row(scenario, sides, peer, target="—", met=None, note="", lake="lake"):
    """One table row: lake against one peer; met(lake_s, peer_s, lake_rss_mib) -> bool."""
    lake_s, peer_s = sides.med(lake), sides.med(peer)
    for side in (lake, peer):
        if side in sides.failed:
            msg = sides.failed[side]
            msg = msg[msg.find("ERROR:"):] if "ERROR:" in msg else msg
            note = (note + "; " if note else "") + f"failed: {msg[:120]}"
    ratio = lake_s / peer_s if lake_s is not None and peer_s else None
    lrss = sides.rss.get(lake, 0) / 1024
    ok = None
    if met is not None and lake_s is not None:
        try:
            ok = bool(met(lake_s, peer_s, lrss))
        except TypeError:  # the target is relative to a peer that has no figure
            ok = None
    ROWS.append(dict(scenario=scenario, lake_s=lake_s, peer=peer, peer_s=peer_s, ratio=ratio, target=target,
                     met=ok, lake_rss_mib=round(lrss, 1) if lrss else None,
                     peer_rss_mib=round(sides.rss.get(peer, 0) / 1024, 1) or None, note=note,
                     runs=f"{len(sides.t.get(lake, []))}/{len(sides.t.get(peer, []))}"))


def unavailable(scenario, sides, peer, why, target="—", met=None):
    row(scenario, sides, peer, target, met, note=f"peer not run: {why}")


def fmt_s(s):
    if s is None:
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def table():
    head = ["scenario", "lake", "peer", "peer time", "lake/peer", "target", "met", "RSS lake", "RSS peer", "runs"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in ROWS:
        met = {True: "yes", False: "**NO**", None: "—"}[r["met"]]
        peer = r["peer"] + (f" ({r['note']})" if r["note"] else "")
        ratio = f"{r['ratio']:.3g}×" if r["ratio"] is not None else "—"
        rss = lambda m: f"{m:.0f} MiB" if m else "—"
        lines.append("| " + " | ".join([r["scenario"], fmt_s(r["lake_s"]), peer, fmt_s(r["peer_s"]), ratio,
                                         r["target"], met, rss(r["lake_rss_mib"]), rss(r["peer_rss_mib"]), r["runs"]]) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ data


def generate_tree(name, count, entry):
    """Writes `count` files below DATA/name, once: entry(i) gives the
    subdirectory, file name and bytes of file i. A `.done` marker makes a
    half-written tree from an interrupted run count as missing."""
    tree = DATA / name
    if not (DATA / f"{name}.done").exists():
        log(f"generating {name}")
        fresh(tree)
        for i in range(count):
            subdir, file_name, data = entry(i)
            (tree / subdir).mkdir(exist_ok=True)
            (tree / subdir / file_name).write_bytes(data)
        (DATA / f"{name}.done").write_text("")
    return tree


def gen_data(cfg):
    t0 = time.perf_counter()
    DATA.mkdir(exist_ok=True)
    big = DATA / f"big-{cfg['big_mib']}M.bin"
    if not big.exists() or big.stat().st_size != cfg["big_mib"] << 20:
        log(f"generating {big.name}")
        tmp = big.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            for _ in range(cfg["big_mib"]):
                f.write(os.urandom(1 << 20))
        tmp.rename(big)
    small = generate_tree(f"small-{cfg['small_n']}", cfg["small_n"],
                          lambda i: (f"d{i // 1000:02d}", f"f{i:05d}.bin", os.urandom(4096)))
    tiny = generate_tree(f"names-{cfg['ls_big_n']}", cfg["ls_big_n"],
                         lambda i: (f"d{i // 1000:03d}", f"n{i:06d}", b"%d\n" % i))
    return big, small, tiny, time.perf_counter() - t0


# ------------------------------------------------------------------ scenarios


def bench_local(cfg, big, small):
    reps = cfg["reps"]
    label_big = f"{cfg['big_mib']} MiB" if cfg["big_mib"] != 1024 else "1 GiB"
    label_small = f"{cfg['small_n']:,} × 4 KiB"
    s_add, s_noop, s_verify = Sides(), Sides(), Sides()
    home = WORK / "big-home"
    for rep in range(reps):
        fresh(home)
        sh("sync")
        s_add.time("lake", [LAKE, "-q", "add", str(big), "bench/big"], env=lake_env(home))
        out = WORK / "cp.bin"
        out.unlink(missing_ok=True)
        sh("sync")
        s_add.time("cp", ["cp", str(big), str(out)])
        repo = dvc_repo(WORK / "big-dvc")
        sh(["cp", str(big), str(repo / "big.bin")])
        sh("sync")
        s_add.time("dvc add", [DVC, "add", "-q", "big.bin"], env=base_env(), cwd=repo)
        s_add.time("b3sum", [B3SUM, "--num-threads", "2", str(big)])
    for rep in range(reps):
        s_noop.time("lake", [LAKE, "-q", "add", str(big), "bench/big"], env=lake_env(home))
        s_noop.time("dvc add", [DVC, "add", "-q", "big.bin"], env=base_env(), cwd=repo)
        s_verify.time("lake", [LAKE, "-q", "verify"], env=lake_env(home))
        s_verify.time("b3sum", [B3SUM, "--num-threads", "2", str(big)])
        s_verify.time("dvc status", [DVC, "status", "-q"], env=base_env(), cwd=repo)
    sc = f"add {label_big}"
    row(sc, s_add, "cp", "≤ 1.5× cp, RSS < 64 MiB", lambda l, p, rss: l <= 1.5 * p and rss < 64)
    row(sc, s_add, "dvc add")
    row(sc, s_add, "b3sum", note="hash limit, 2 threads")
    row(f"no-op re-add {label_big}", s_noop, "dvc add")
    row(f"verify {label_big}", s_verify, "b3sum", note="hash limit, 2 threads")
    row(f"verify {label_big}", s_verify, "dvc status", note="stat only, no re-hash")

    s_add, s_noop, s_verify = Sides(), Sides(), Sides()
    home = WORK / "small-home"
    for rep in range(reps):
        fresh(home)
        sh("sync")
        s_add.time("lake", [LAKE, "-q", "add", "-r", str(small), "bench/small"], env=lake_env(home))
        out = WORK / "cp-small"
        discard(out)
        sh("sync")
        s_add.time("cp -r", ["cp", "-r", str(small), str(out)])
        repo = dvc_repo(WORK / "small-dvc")
        sh(["cp", "-r", str(small), str(repo / "small")])
        sh("sync")
        s_add.time("dvc add", [DVC, "add", "-q", "small"], env=base_env(), cwd=repo)
    sh("git add small.dvc .gitignore && git commit -qm data", cwd=repo)
    for rep in range(reps):
        s_noop.time("lake", [LAKE, "-q", "add", "-r", str(small), "bench/small"], env=lake_env(home))
        s_noop.time("dvc add", [DVC, "add", "-q", "small"], env=base_env(), cwd=repo)
        s_verify.time("lake", [LAKE, "-q", "verify"], env=lake_env(home))
        s_verify.time("b3sum", f"find {small} -type f -print0 | xargs -0 {B3SUM} --num-threads 2 >/dev/null")
        s_verify.time("dvc status", [DVC, "status", "-q"], env=base_env(), cwd=repo)
    sc = f"add -r {label_small}"
    row(sc, s_add, "cp -r", "≤ 4× cp -r", lambda l, p, r: l <= 4 * p)
    row(sc, s_add, "dvc add", "≥ 10× faster", lambda l, p, r: l * 10 <= p)
    row(f"no-op re-add {label_small}", s_noop, "dvc add", "≤ 50 ms", lambda l, p, r: l <= 0.05)
    row(f"verify {label_small}", s_verify, "b3sum", note="hash limit")
    row(f"verify {label_small}", s_verify, "dvc status", note="stat only, no re-hash")
    return home, repo


def bench_ls(cfg, small_home, small_repo, tiny):
    reps = cfg["reps"]
    # The larger name set: lake add -r of tiny files, and the same tree in DVC.
    t0 = time.perf_counter()
    home = fresh(WORK / "names-home")
    sh([LAKE, "-q", "add", "-r", str(tiny), "names"], env=lake_env(home))
    lake_gen = time.perf_counter() - t0
    log(f"lake add -r of {cfg['ls_big_n']:,} names: {lake_gen:.1f} s")
    repo = DATA / f"names-{cfg['ls_big_n']}-dvc"
    if not (DATA / f"{repo.name}.done").exists():
        t0 = time.perf_counter()
        dvc_repo(repo)
        sh(["cp", "-r", str(tiny), str(repo / "names")])
        sh([DVC, "add", "-q", "names"], env=base_env(), cwd=repo)
        sh("git add names.dvc .gitignore && git commit -qm data", cwd=repo)
        (DATA / f"{repo.name}.done").write_text("")
        log(f"dvc add of {cfg['ls_big_n']:,} names (once, kept in bench/data): {time.perf_counter() - t0:.1f} s")
    for n, h, r, prefix in [(cfg["small_n"], small_home, small_repo, "small"),
                            (cfg["ls_big_n"], home, repo, "names")]:
        s = Sides()
        lp = "bench/small" if prefix == "small" else "names"

        def count(expect):
            def check(out):
                got = len([x for x in out.splitlines() if x.strip()])
                if got < expect:
                    raise Failed(f"ls printed {got} lines, expected {expect}")
            return check

        for rep in range(reps):
            s.time("lake", [LAKE, "-q", "ls", "-r", lp], env=lake_env(h), check=count(n))
            s.time("dvc ls -R", [DVC, "ls", "-R", str(r), prefix], env=base_env(), cwd=r, check=count(n))
        tgt, met = ("< 0.3 s", lambda l, p, x: l < 0.3) if n >= 100_000 or n == cfg["ls_big_n"] else ("—", None)
        row(f"ls -r of {n:,} names", s, "dvc ls -R", tgt, met)
    return lake_gen


DVC_STAGE = """  s{i}:
    cmd: cp f{j} f{i}
    deps: [f{j}]
    outs: [f{i}]
"""


def bench_chain(cfg):
    reps, n = cfg["reps"], cfg["chain_n"]
    first, uptodate, evicted, info = Sides(), Sides(), Sides(), Sides()
    seed = b"lake chain seed 0123456789abcdef\n" * 32
    last = None

    def ran(expect):
        def check(out):
            got = json.loads(out)["ran"]
            if got != expect:
                raise Failed(f"chain ran {got} steps, expected {expect}")
        return check

    for rep in reps_of(cfg):
        home, store = fresh(WORK / "chain-home"), fresh(WORK / "chain-store")
        env = lake_env(home, f"file://{store}")
        out = first.time("lake", [CHAIN, "run", str(n)], env=env, check=ran(n + 1))
        last = json.loads(out)["last"] if out else last
        repo = dvc_repo(WORK / "chain-dvc")
        (repo / "f0").write_bytes(seed)
        (repo / "dvc.yaml").write_text("stages:\n" + "".join(DVC_STAGE.format(i=i, j=i - 1) for i in range(1, n + 1)))
        first.time("dvc repro", [DVC, "repro", "-q"], env=base_env(), cwd=repo)
        steps = fresh(WORK / "chain-cp")
        (steps / "f0").write_bytes(seed)
        first.time("cp × steps", " && ".join(f"cp f{i - 1} f{i}" for i in range(1, n + 1)), cwd=steps)
        # Up to date, then after local outputs are gone (the store keeps them).
        uptodate.time("lake", [CHAIN, "run", str(n)], env=env, check=ran(0))
        uptodate.time("dvc repro", [DVC, "repro", "-q"], env=base_env(), cwd=repo)
        if last:
            info.time("lake", [LAKE, "-q", "info", last], env=env)
        info.time("dvc dag", [DVC, "dag"], env=base_env(), cwd=repo)
        sh([LAKE, "-q", "evict"], env=env)
        evicted.time("lake", [CHAIN, "run", str(n)], env=env, check=ran(0))
        sh(" ".join(f"f{i}" for i in range(1, n + 1)).join(["rm -f ", ""]), cwd=repo)
        evicted.time("dvc repro", [DVC, "repro", "-q"], env=base_env(), cwd=repo)
    sc = f"{n}-step chain, first run"
    row(sc, first, "dvc repro")
    row(sc, first, "cp × steps", "≤ 0.5 s + steps", lambda l, p, r: l <= 0.5 + p, note="the steps' own work")
    row(f"{n}-step chain, up to date (process)", uptodate, "dvc repro", "≥ 20× faster", lambda l, p, r: l * 20 <= p)
    row(f"{n}-step chain, outputs evicted", evicted, "dvc repro", "≤ 0.3 s, no step runs",
        lambda l, p, r: l <= 0.3, note="run-cache restore")
    row(f"info of a {n}-ancestor chain", info, "dvc dag")


JOBLIB = r"""
import json, sys, time
t0 = time.perf_counter()
from joblib import Memory
mem = Memory(sys.argv[1], verbose=0)
def tiny(factor, label):
    return f"{factor} {label}"
f = mem.cache(tiny)
f(3, "x")
first = time.perf_counter() - t0
calls = int(sys.argv[2])
batch = max(calls // 20, 1)
per = []
for _ in range(20):
    t = time.perf_counter()
    for _ in range(batch):
        f(3, "x")
    per.append((time.perf_counter() - t) / batch)
per.sort()
print(json.dumps({"first_hit_s": first, "warm_hit_s": per[len(per) // 2]}))
"""


def bench_hits(cfg):
    reps = cfg["reps"]
    warm, first, s3 = Sides(), Sides(), Sides()
    home = fresh(WORK / "hit-home")
    jdir = fresh(WORK / "hit-joblib")
    script = WORK / "joblib_hit.py"
    script.write_text(JOBLIB)
    env = lake_env(home)
    sh([CHAIN, "hit", "1"], env=env)  # computes once
    sh([VPY, str(script), str(jdir), "1"])
    for rep in range(reps):
        for side, cmd in [("lake", [CHAIN, "hit", "200000"]), ("joblib.Memory", [VPY, str(script), str(jdir), "20000"])]:
            secs, rss, out = run(cmd, env=env if side == "lake" else base_env())
            o = json.loads(out)
            warm.add(side, o["warm_hit_s"], rss)
            first.add(side, o["first_hit_s"], rss)
    # First hit from a fresh home against S3 (moto): the run manifest is only there.
    prefix = f"s3://{BUCKET}/hit-{uuid.uuid4().hex[:8]}"
    sh([CHAIN, "hit", "1"], env=lake_env(fresh(WORK / "hit-s3-seed"), prefix, "MOTO"))
    for rep in range(reps):
        secs, rss, out = run([CHAIN, "hit", "1"], env=lake_env(fresh(WORK / "hit-s3"), prefix, "MOTO"))
        s3.add("lake", json.loads(out)["first_hit_s"], rss)
    row("warm cache hit, in process", warm, "joblib.Memory", "≤ 10 µs and ≥ 10× faster",
        lambda l, p, r: l <= 10e-6 and l * 10 <= p)
    row("first hit, fresh process, local home", first, "joblib.Memory", "≤ 1 ms", lambda l, p, r: l <= 1e-3,
        note="open + first call, timed inside the process")
    unavailable("first hit, fresh process + fresh home, S3 (moto)", s3, "joblib.Memory",
                "joblib has no object store")


def requests_in(out):
    """`12 request(s) (3.0 MiB up, 1.2 KiB down)` from a lake summary, or ""."""
    found = re.findall(r"(\d+ request\(s\) \([^)]*\))", out or "")
    return found[-1] if found else ""


def bench_transfers(cfg, big, small, server):
    reps = cfg["reps"]
    label_big = f"{cfg['big_mib']} MiB" if cfg["big_mib"] != 1024 else "1 GiB"
    label_small = f"{cfg['small_n']:,} × 4 KiB"
    aenv = aws_env(server)
    results = {}
    for what, src in [(label_big, big), (label_small, small)]:
        push, pull = Sides(), Sides()
        # lake's own count of what it asked the store, from its summaries.
        asked = {"push": "", "pull": ""}
        directory = src.is_dir()
        for rep in reps_of(cfg):
            tag = uuid.uuid4().hex[:8]
            store = f"s3://{BUCKET}/lake-{tag}"
            # lake: add to a fresh home on the S3 store; pull into another fresh home.
            env = lake_env(fresh(WORK / "xfer-home"), store, server)
            add = [LAKE, "add"] + (["-r"] if directory else []) + [str(src), "bench/x"]
            asked["push"] = requests_in(push.time("lake", add, env=env)) or asked["push"]
            # aws cli
            dest = f"s3://{BUCKET}/aws-{tag}/x"
            push.time("aws s3", aws(server, "sync" if directory else "cp", str(src), dest), env=aenv)
            # dvc
            repo = dvc_repo(WORK / "xfer-dvc", f"s3://{BUCKET}/dvc-{tag}", server)
            sh(["cp", "-r", str(src), str(repo / "x")])
            sh([DVC, "add", "-q", "x"], env=base_env(), cwd=repo)
            push.time("dvc push", [DVC, "push"], env=base_env(), cwd=repo)

            env = lake_env(fresh(WORK / "xfer-home"), store, server)
            out = WORK / "xfer-out"
            discard(out)
            if directory:
                got = pull.time("lake", [LAKE, "pull", "bench/x"], env=env)
                asked["pull"] = requests_in(got) or asked["pull"]
            else:
                pull.time("lake", [LAKE, "-q", "get", "bench/x", "-o", str(out)], env=env)
                out.unlink(missing_ok=True)
            pull.time("aws s3", aws(server, "sync" if directory else "cp", dest, str(out)), env=aenv)
            discard(repo / ".dvc" / "cache")
            discard(repo / "x")
            if "dvc push" in push.failed:
                pull.fail("dvc pull", "dvc push failed")
            pull.time("dvc pull", [DVC, "pull"], env=base_env(), cwd=repo)
            for p in (f"lake-{tag}", f"aws-{tag}", f"dvc-{tag}"):
                if server == "S3S":
                    shutil.rmtree(SERVERS / "s3s-data" / BUCKET / p, ignore_errors=True)
                elif directory:
                    # 30,000 deletes would take moto minutes, to free ~120 MiB.
                    pass
                else:  # frees moto's memory; best effort, the next rep uses new prefixes
                    try:
                        sh(aws(server, "rm", "--recursive", f"s3://{BUCKET}/{p}"), env=aenv)
                    except Failed as e:
                        log(f"cleanup of {p} failed (ignored): {str(e)[:300]}")
        srv = {"MOTO": "moto", "S3S": "s3s-fs"}[server]
        for kind, sides, peer_dvc in [("push", push, "dvc push"), ("pull", pull, "dvc pull")]:
            sc = f"{kind} {what} ({srv})"
            # On a loopback server the server sets the pace: dvc is shown,
            # and the aws CLI on the same server is the peer with a target.
            row(sc, sides, peer_dvc, note="information: no target")
            note = "sync" if directory else "cp"
            if asked[kind]:
                note += f"; lake: {asked[kind]}"
            row(sc, sides, "aws s3", "≤ 1× aws", lambda l, p, r: l <= p, note=note)
    return results


def slurm_wait(job, env):
    """Polls squeue every 0.5 s until no task of job is queued or running,
    as lake's Slurm executor does (not `sbatch --wait`, which polls at
    growing intervals: see docs/design/0012)."""
    while True:
        p = subprocess.run(["squeue", "-h", "-r", "-j", job, "-o", "%T"], env=env, capture_output=True, text=True)
        if p.returncode != 0:
            if "Invalid job id" in p.stderr:
                return
            raise Failed(f"squeue -j {job}: {p.stderr.strip()}")
        if not p.stdout.strip():
            return
        time.sleep(0.5)


def plain_array(work, tasks, env):
    """Stage 1's calls as a plain `sbatch --array` script of `cluster plain
    <i>` (the same fit, no lake), submitted and polled as lake does; its
    wall time from submission to the last task's end."""
    t0 = time.perf_counter()
    p = subprocess.run(["sbatch", "--parsable", f"--array=0-{tasks - 1}", f"--chdir={work}",
                        f"--partition={os.environ.get('LAKE_TEST_SLURM_PARTITION', 'lake')}",
                        f"--output={work}/plain-%a.log", f"--wrap=exec {CLUSTER} plain $SLURM_ARRAY_TASK_ID"],
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise Failed(f"sbatch: {p.stderr.strip()}")
    slurm_wait(p.stdout.strip().split(";")[0], env)
    secs = time.perf_counter() - t0
    done = len(list((work / "stations" / "plain").glob("*.txt")))
    if done != tasks:
        raise Failed(f"the plain array made {done} of {tasks} fits")
    return secs


def stage_secs(out, stage):
    """`stage N: … in 83.21s` (Rust's Debug of a Duration) in seconds."""
    for line in out.splitlines():
        if line.startswith(f"stage {stage}: "):
            took = line.rsplit(" in ", 1)[1]
            for unit, scale in (("ms", 1e-3), ("µs", 1e-6), ("s", 1.0)):
                if took.endswith(unit):
                    return float(took[: -len(unit)]) * scale
    raise Failed(f"no time for stage {stage} in {out[:500]}")


def bench_cluster(cfg):
    """examples/cluster.rs (stations × 10 fits, then a choice per station) on
    the Slurm executor against the local pool, cold and rerun, and its
    stage 1 against the same fits as a plain array job; the store on moto."""
    if os.environ.get("LAKE_TEST_SLURM") != "1":
        log("cluster: no Slurm cluster (LAKE_TEST_SLURM unset): skipped")
        return
    stations = cfg["stations"]
    calls = stations * 10
    stage1, cold, rerun = Sides(), Sides(), Sides()

    def submitted(expect):
        def check(out):
            jobs = [int(line.split(" job(s) submitted")[0].rsplit(", ", 1)[1])
                    for line in out.splitlines() if line.startswith("stage ")]
            if jobs != expect:
                raise Failed(f"jobs submitted per stage {jobs}, expected {expect}")
        return check

    for rep in reps_of(cfg):
        for executor in ("slurm", "local"):
            side = f"lake {executor}"
            work = fresh(WORK / f"cluster-{executor}")
            env = lake_env(work / "home", f"s3://{BUCKET}/cluster-{uuid.uuid4().hex[:8]}", "MOTO")
            env.update(LAKE_EXECUTOR=executor,
                       LAKE_SLURM_PARTITION=os.environ.get("LAKE_TEST_SLURM_PARTITION", "lake"))
            jobs = [1, 1] if executor == "slurm" else [0, 0]
            out = cold.time(side, [CLUSTER, "--stations", str(stations)], env=env, cwd=work,
                            check=submitted(jobs))
            if out and executor == "slurm":
                stage1.add("lake", stage_secs(out, 1))
            for _ in range(3):
                rerun.time(side, [CLUSTER], env=env, cwd=work, check=submitted([0, 0]))
        work = WORK / "cluster-slurm"
        try:
            stage1.add("plain sbatch --array", plain_array(work, calls, base_env()))
        except Failed as e:
            stage1.fail("plain sbatch --array", e)
    per_task = ""
    if stage1.med("lake") and stage1.med("plain sbatch --array"):
        extra = (stage1.med("lake") - stage1.med("plain sbatch --array")) / calls
        per_task = f"lake adds {extra * 1e3:.0f} ms per task"
    row(f"cluster: stage 1, {calls} calls on Slurm", stage1, "plain sbatch --array",
        note=f"the same fits, no lake; {per_task}" if per_task else "the same fits, no lake")
    row(f"cluster: {calls + stations} calls in 2 stages, cold", cold, "lake local", lake="lake slurm",
        note="Slurm against the local pool, store on moto")
    row(f"cluster: rerun, nothing submitted", rerun, "lake local", "≤ 0.5 s, 0 jobs",
        lambda l, p, r: l <= 0.5, lake="lake slurm")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated: local,ls,chain,hits,moto,s3s,cluster")
    args = ap.parse_args()
    cfg = QUICK if args.quick else FULL
    only = set(filter(None, args.only.split(",")))
    want = lambda part: not only or part in only
    started = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    if only and only <= {"cluster"}:
        # The cluster phase makes its own data; 1 GiB and 110k files would
        # be written for nothing.
        big = small = tiny = None
        gen = 0.0
    else:
        big, small, tiny, gen = gen_data(cfg)
    log(f"data ready in {gen:.1f} s; timed commands write below {WORK}"
        f" ({'tmpfs' if WORK_ON_TMPFS else fs_type(WORK.parent) or 'disk'})")
    phases = {}

    def phase(name, fn, *a):
        t0 = time.perf_counter()
        log(f"{name} ...")
        r = None
        try:
            r = fn(*a)
        except Exception as e:  # noqa: BLE001 - the other phases still run
            log(f"{name} FAILED: {type(e).__name__}: {e}")
            phases[name] = "failed"
        finally:
            phases.setdefault(name, round(time.perf_counter() - t0, 1))
            log(f"{name}: {phases[name]} s")
            empty_trash()
        return r

    small_home = small_repo = None
    if want("local") or want("ls"):
        small_home, small_repo = phase("local", bench_local, cfg, big, small)
    if want("ls"):
        lake_gen = phase("ls", bench_ls, cfg, small_home, small_repo, tiny)
    if want("chain"):
        phase("chain", bench_chain, cfg)
    if want("hits"):
        phase("hits", bench_hits, cfg)
    if want("moto"):
        phase("moto", bench_transfers, cfg, big, small, "MOTO")
    if want("s3s"):
        phase("s3s", bench_transfers, cfg, big, small, "S3S")
    if want("cluster"):
        phase("cluster", bench_cluster, cfg)
    total = time.perf_counter() - started
    print(table())
    print(f"\nmode: {'quick' if args.quick else 'full'}; data generation {gen:.1f} s; "
          f"phases {phases}; total {total:.0f} s (harness, excluding installs and server start)")
    out = BENCH / ("results.quick.json" if args.quick else "results.json")
    if only:
        out = WORK / "results.partial.json"
    out.write_text(json.dumps(ROWS, indent=1, ensure_ascii=False) + "\n")
    log(f"wrote {out}")
    md = out.parent / ("RESULTS.quick.md" if args.quick else "RESULTS.md")
    if only:
        md = WORK / "RESULTS.partial.md"
    md.write_text(
        f"# bench/run{' --quick' if args.quick else ''}: results\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, `{os.uname().nodename}`, "
        f"{os.cpu_count()} cores, git {sh('git rev-parse --short HEAD', cwd=ROOT).strip()}; "
        f"data {cfg}; medians of {cfg['reps']} runs.\n\n{table()}\n\n"
        f"Data generation {gen:.1f} s; phases (s) {phases}; harness total {total:.0f} s.\n")


if __name__ == "__main__":
    main()

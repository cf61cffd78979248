"""Recipe tournament: train every variant of ``configs/tournament/`` for the same CPU budget, score all alike.

Budget. The unit is the CPU time of ``--budget-steps`` (default 3,000) steps of ``baseline.toml`` (the v1
recipe) on one thread. Each variant's steps are set so that it spends the same: a calibration runs 40
steps of the variant beside 40 steps of the baseline (one thread each, at the same time, so both see the
same machine) and takes the ratio of their CPU seconds per step (steps 20-40: after the codebook init).
``run.total_steps`` of the variant is ``budget_steps * baseline_cpu_per_step / variant_cpu_per_step``.
Training runs ``--lanes`` at a time (default 2), one thread each; every run writes ``cpu_s`` (the CPU time
of its training steps) into its metrics, and the table reports it next to the steps.

Scoring (the same held-out set for every variant: the validation split of the configs' shared
``data.split_seed``, superfamilies and sequence groups never trained on):

* reconstruction of the first ``--n-whole`` held-out chains by id, whole, and of the central 128 residues of
  those at least that long (tokenized alone): median CA-RMSD after superposition, TM-score, lDDT-CA, and
  the share of bonded CA-CA distances of the decoded chain within 3.8 ± 0.2 Å, all of the decoder's own
  atoms (``idealize=False``: the recipes are compared, not the idealization). Variants whose quantizer
  never hardens (``anneal_start = 1``: continuous ceilings) decode their continuous latents instead;
* codebook use and perplexity of the tokens of those chains;
* local structure: macro-F1 of a linear probe on token ids (window ±2) for DSSP 3-state (H G I / E B /
  rest), trained on the first ``--n-probe-train`` training chains by id and scored on the first
  ``--n-probe-test`` held-out chains; Foldseek 3Di and the random-codebook control scored the same way;
* robustness: the share of tokens that change under 0.1 Å Gaussian noise on every atom, 3Di beside it.

Outputs under ``--out`` (default ``benchmarks/results/tournament``): ``results.csv`` (one row per variant),
``curves.png`` (validation CA-RMSD and TM-score against CPU hours), ``plan.json`` (calibration and steps),
``commands.md`` (the command of every run), ``eval/NAME.json`` (the scores) and ``eval/NAME.curve.jsonl`` (the
run's validation rows and the training rows at those steps: what the table and curves need, so a report
rebuilds them after the run folders are gone).

    python benchmarks/recipe_tournament.py --variants baseline,logsep,context --runs-dir runs/tournament
    python benchmarks/recipe_tournament.py --report-only          # table and curves from what is there
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs" / "tournament"
CALIBRATION_STEPS = 40
CROP = 128


# --------------------------------------------------------------------------------------------- training
@dataclass
class Job:
    name: str
    command: list[str]
    log: Path


def _train_command(config: Path, out_dir: str, sets: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "protok.training", str(config.relative_to(REPO))]
    for s in [*sets, f"run.out_dir={out_dir}"]:
        cmd += ["--set", s]
    return cmd


def _run_jobs(jobs: list[Job], lanes: int) -> dict[str, int]:
    """Run ``jobs`` ``lanes`` at a time (one thread each); return exit codes by name."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPO))
    pending, running, codes = list(jobs), {}, {}
    while pending or running:
        while pending and len(running) < lanes:
            job = pending.pop(0)
            job.log.parent.mkdir(parents=True, exist_ok=True)
            with open(job.log, "ab") as log:
                running[job.name] = subprocess.Popen(job.command, cwd=REPO, env=env, stdout=log, stderr=log)
            print(f"started {job.name}: {' '.join(job.command[1:])}", flush=True)
        for name, proc in list(running.items()):
            if proc.poll() is not None:
                codes[name] = proc.returncode
                del running[name]
                print(f"finished {name} (exit {proc.returncode})", flush=True)
        time.sleep(2)
    return codes


def _metrics(run_dir: Path) -> list[dict[str, Any]]:
    return _metrics_file(run_dir / "metrics.jsonl")


def _metrics_file(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _curve(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of a run's metrics that the table and the curves use: every validation row, and the training
    rows with CPU time at those steps and at the last step."""
    train = [r for r in metrics if r.get("split") == "train" and "cpu_s" in r]
    val = [r for r in metrics if r.get("split") == "val"]
    steps = {r["step"] for r in val} | ({train[-1]["step"]} if train else set())
    return [r for r in train if r["step"] in steps] + val


def _saved_metrics(out: Path, name: str, runs_dir: Path) -> list[dict[str, Any]]:
    """``name``'s curve rows (:func:`_curve`): from its run folder when there, saved to
    ``eval/NAME.curve.jsonl``; else from that file."""
    path = out / "eval" / f"{name}.curve.jsonl"
    rows = _curve(_metrics(runs_dir / name))
    if rows:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return rows
    return _metrics_file(path)


def _cpu_per_step(run_dir: Path) -> float:
    rows = {r["step"]: r for r in _metrics(run_dir) if r.get("split") == "train" and "cpu_s" in r}
    a, b = rows[CALIBRATION_STEPS // 2], rows[CALIBRATION_STEPS]
    return (b["cpu_s"] - a["cpu_s"]) / (b["step"] - a["step"])


def _phases(name: str) -> list[tuple[float, list[str]]]:
    """(share of the steps, overrides) of each crop phase of a variant (one phase without a curriculum)."""
    from protok.training import load_config

    schedule = load_config(CONFIGS / f"{name}.toml").data.crop_schedule
    if not schedule:
        return [(1.0, [])]
    starts = [float(p[0]) for p in schedule] + [1.0]
    return [
        (
            starts[i + 1] - starts[i],
            ["data.crop_schedule=[]", f"data.crop_length={int(p[1])}", f"data.batch_size={int(p[2])}"],
        )
        for i, p in enumerate(schedule)
    ]


def calibrate(variants: list[str], runs_dir: Path, budget_steps: int, lanes: int) -> dict[str, Any]:
    """Steps of each variant for the baseline's CPU budget (see the module docstring). A crop curriculum
    is calibrated phase by phase and weighted by the phases' shares of the steps."""
    probe = ["run.total_steps=3000", f"run.stop_at={CALIBRATION_STEPS}", "run.log_every=10"]
    plan: dict[str, Any] = {}
    for name in variants:
        if name == "baseline":
            plan[name] = {"steps": budget_steps, "cpu_ratio": 1.0}
            continue
        ratio = 0.0
        for i, (share, sets) in enumerate(_phases(name)):
            root = runs_dir / "_calibration" / f"{name}-{i}"
            jobs = [
                Job(
                    f"{name}:{who}",
                    _train_command(
                        CONFIGS / f"{who}.toml", str(root / who), probe + (sets if who == name else [])
                    ),
                    root / f"{who}.log",
                )
                for who in ("baseline", name)
            ]
            codes = _run_jobs(jobs, lanes)
            if any(codes.values()):
                raise SystemExit(f"calibration of {name} failed: {codes} (logs under {root})")
            ratio += share * _cpu_per_step(root / name) / _cpu_per_step(root / "baseline")
        plan[name] = {"steps": int(round(budget_steps / ratio)), "cpu_ratio": round(ratio, 3)}
        print(f"{name}: {ratio:.3f}x the baseline's CPU per step -> {plan[name]['steps']} steps", flush=True)
    return plan


def train_all(plan: dict[str, Any], runs_dir: Path, runs_arg: str, lanes: int) -> list[dict[str, str]]:
    """Train (or resume) every planned variant; return the command of each run (``runs_arg``: the runs
    folder as given, relative to the repository, so that commands read the same on any machine)."""
    jobs, commands = [], []
    for name, p in plan.items():
        run_dir = runs_dir / name
        sets = [f"run.total_steps={p['steps']}"]
        cmd = _train_command(CONFIGS / f"{name}.toml", f"{runs_arg}/{name}", sets)
        commands.append({"variant": name, "command": "OMP_NUM_THREADS=1 python " + " ".join(cmd[1:])})
        if _finished(run_dir, p["steps"]):
            continue
        if (run_dir / "checkpoints" / "latest.json").exists():
            cmd = [*cmd, "--resume"]
        jobs.append(Job(name, cmd, runs_dir / f"{name}.log"))
    codes = _run_jobs(jobs, lanes)
    failed = {k: v for k, v in codes.items() if v}
    if failed:
        print(f"runs failed: {failed}", flush=True)
    return commands


def _finished(run_dir: Path, steps: int) -> bool:
    return any(r.get("step") == steps and r.get("split") == "val" for r in _metrics(run_dir))


# --------------------------------------------------------------------------------------------- scoring
DSSP3 = {c: 0 for c in "HGI"} | {c: 1 for c in "EB"}


def ss3_labels(dssp: str) -> np.ndarray:
    """DSSP 8-state string -> 0 helix (H G I), 1 strand (E B), 2 other."""
    return np.array([DSSP3.get(c, 2) for c in dssp], dtype=np.int64)


def probe_f1(
    train: list[tuple[np.ndarray, np.ndarray]], test: list[tuple[np.ndarray, np.ndarray]], k: int
) -> float:
    """Macro-F1 on ``test`` of a linear softmax probe on token ids in a ±2 window, fitted on ``train``.

    Each item is ``(tokens (L,), labels (L,))``; tokens outside ``0..k-1`` and the window's overhang share
    one padding id. The probe is ``sum_o W_o[token_{i+o}] + b`` (a linear model on the one-hot window),
    fitted by full-batch Adam on the cross-entropy.
    """
    import torch

    from protok.bench.scores import macro_f1

    def windows(items: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for tok, lab in items:
            t = np.where((tok >= 0) & (tok < k), tok, k)
            pad = np.concatenate([[k, k], t, [k, k]])
            xs.append(np.stack([pad[o : o + len(t)] for o in range(5)], axis=1))
            ys.append(lab)
        return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))

    x, y = windows(train)
    xt, yt = windows(test)
    offsets = torch.arange(5) * (k + 1)
    emb = torch.nn.EmbeddingBag(5 * (k + 1), 3, mode="sum")
    torch.nn.init.zeros_(emb.weight)
    bias = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.Adam([emb.weight, bias], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(emb(x + offsets) + bias, y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = (emb(xt + offsets) + bias).argmax(1)
    return float(macro_f1(yt.numpy(), pred.numpy(), 3))


def _superposed_metrics(pred: np.ndarray, ref: np.ndarray, bonded: np.ndarray) -> dict[str, float]:
    from protok.metrics import ca_rmsd, lddt_ca, tm_score

    ca = pred[:, 1]
    d = np.linalg.norm(ca[1:] - ca[:-1], axis=1)[bonded[1:]]
    return {
        "rmsd": float(ca_rmsd(pred, ref)),
        "tm": float(tm_score(pred[:, 1], ref[:, 1])),
        "lddt": float(lddt_ca(pred[:, 1], ref[:, 1])),
        "caca_ok": float(np.mean(np.abs(d - 3.8) <= 0.2)) if len(d) else float("nan"),
    }


class Scorer:
    """Held-out chains, labels and the baselines' tokens, computed once for every variant."""

    def __init__(
        self,
        n_whole: int,
        n_probe_train: int,
        n_probe_test: int,
        noise: float = 0.1,
        cached: dict[str, Any] | None = None,
    ) -> None:
        from protok.bench.adapters import RandomCodebookAdapter, ThreeDiAdapter
        from protok.bench.tasks.robustness import noisy_copies
        from protok.structures import Promod3Chains
        from protok.training import load_config
        from protok.training.data import load_training_data

        cfg = load_config(CONFIGS / "baseline.toml")
        data = load_training_data(cfg.data)
        store = data.store
        val = sorted(data.val.tolist(), key=lambda i: store.ids[i])
        train = sorted(data.train.tolist(), key=lambda i: store.ids[i])
        self.whole = [store.get(i) for i in val[:n_whole]]
        self.crops = [
            c.slice((len(c) - CROP) // 2, (len(c) - CROP) // 2 + CROP) for c in self.whole if len(c) >= CROP
        ]
        self.noisy = noisy_copies(self.whole, noise, seed=0)
        archive = Promod3Chains(cfg.data.promod3)

        def labelled(indices: list[int]) -> tuple[list[Any], list[np.ndarray]]:
            chains = [store.get(i) for i in indices]
            dssp = [archive.dssp(archive.index(store.ids[i])) for i in indices]
            return chains, [ss3_labels(d) for d in dssp]

        self.probe_train, self.train_labels = labelled(train[:n_probe_train])
        self.probe_test, self.test_labels = labelled(val[:n_probe_test])
        self.meta = {
            "held_out_whole": len(self.whole),
            "held_out_crops": len(self.crops),
            "probe_train_chains": len(self.probe_train),
            "probe_test_chains": len(self.probe_test),
            "noise_sigma": noise,
            "split_seed": cfg.data.split_seed,
            "val_fraction": cfg.data.val_fraction,
        }
        self.baselines: dict[str, dict[str, float]] = {}
        if cached and all(cached.get(key) == value for key, value in self.meta.items()):
            self.baselines = cached["baselines"]  # the same chains and noise: scored already
            return
        for name, adapter in (("3di", ThreeDiAdapter()), ("random", RandomCodebookAdapter())):

            def encode(chains: list[Any], a: Any = adapter) -> list[np.ndarray]:
                return [a.encode(_Item(c)) for c in chains]

            self.baselines[name] = {
                "ss3_f1": self.probe(encode, adapter.codebook_size),
                "noise_flip": _flip_share(encode(self.whole), encode(self.noisy)),
            }

    def probe(self, encode: Any, k: int) -> float:
        """SS3 macro-F1 of the window probe on the tokens ``encode(chains)`` gives (vocabulary ``k``)."""
        train = list(zip(encode(self.probe_train), self.train_labels, strict=True))
        test = list(zip(encode(self.probe_test), self.test_labels, strict=True))
        return probe_f1(train, test, k)

    def score(self, run_dir: Path) -> dict[str, Any]:
        """Every tournament metric of the latest checkpoint under ``run_dir``."""
        import protok

        tok = protok.load(str(run_dir))
        continuous = bool(tok.model.continuous)
        k = tok.model.codebook_size

        def tokens(chains: list[Any]) -> list[np.ndarray]:
            return [r.tokens.astype(np.int64) for (r,) in tok.encode_batch(chains)]

        def decoded(chains: list[Any], toks: list[np.ndarray]) -> list[np.ndarray]:
            if continuous:
                return [_decode_latents(tok.model, tok.embed(c)[0], c) for c in chains]
            # the decoder's own atoms: idealization would hide what the recipe taught it
            return [
                tok.decode_coords(t, c.chain_breaks, idealize=False)
                for t, c in zip(toks, chains, strict=True)
            ]

        def recon(chains: list[Any], toks: list[np.ndarray]) -> dict[str, float]:
            rows = []
            for c, pred in zip(chains, decoded(chains, toks), strict=True):
                ok = c.atom_mask.all(axis=1) & np.isfinite(pred).all(axis=(1, 2))
                bonded = ~np.asarray(c.chain_breaks, dtype=bool)
                bonded[0] = False
                bonded &= ok & np.roll(ok, 1)
                ref = c.coords[ok].astype(np.float64)
                rows.append(_superposed_metrics(pred[ok].astype(np.float64), ref, bonded[ok]))
            med = {m: float(np.nanmedian([r[m] for r in rows])) for m in ("rmsd", "tm", "lddt")}
            return med | {"caca_ok": float(np.nanmean([r["caca_ok"] for r in rows]))}

        t0 = time.process_time()
        whole_tokens = tokens(self.whole)
        flat = np.concatenate(whole_tokens)
        counts = np.bincount(flat[(flat >= 0) & (flat < k)], minlength=k)[:k]
        p = counts[counts > 0] / counts.sum()
        row: dict[str, Any] = {
            "continuous_decode": continuous,
            "whole": recon(self.whole, whole_tokens),
            "crop128": recon(self.crops, tokens(self.crops)),
            "usage": float((counts > 0).mean()),
            "perplexity": float(math.exp(-(p * np.log(p)).sum())),
            "ss3_f1": self.probe(tokens, k),
            "noise_flip": _flip_share(whole_tokens, tokens(self.noisy)),
        }
        row["eval_cpu_s"] = round(time.process_time() - t0, 1)
        return row


def _decode_latents(model: Any, z: np.ndarray, chain: Any) -> np.ndarray:
    """Backbone decoded from continuous pre-quantization vectors (continuous-ceiling variants)."""
    import torch

    n = len(chain)
    with torch.no_grad():
        xyz = model.decode(
            torch.from_numpy(np.asarray(z, dtype=np.float32)),
            torch.arange(n),
            torch.zeros(n, dtype=torch.long),
            torch.from_numpy(np.asarray(chain.chain_breaks, dtype=bool)),
        )
    return xyz.numpy()


@dataclass
class _Item:
    chain: Any


def _flip_share(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    from protok.bench.scores import change_share

    return change_share(np.concatenate(a), np.concatenate(b))[0]


# --------------------------------------------------------------------------------------------- report
COLUMNS = [
    "variant", "steps", "cpu_h", "steps_per_cpu_h", "continuous_decode",
    "whole_rmsd", "whole_tm", "whole_lddt", "whole_caca_ok",
    "crop_rmsd", "crop_tm", "crop_lddt", "crop_caca_ok",
    "usage", "perplexity", "ss3_f1", "ss3_f1_3di", "ss3_f1_random", "noise_flip", "noise_flip_3di",
]  # fmt: skip


def _row(
    name: str, ev: dict[str, Any], metrics: list[dict[str, Any]], base: dict[str, Any]
) -> dict[str, Any]:
    train = [r for r in metrics if r.get("split") == "train" and "cpu_s" in r]
    last = train[-1] if train else {}
    cpu_h = last.get("cpu_s", float("nan")) / 3600
    return {
        "variant": name,
        "steps": last.get("step"),
        "cpu_h": round(cpu_h, 3),
        "steps_per_cpu_h": round(last.get("step", 0) / cpu_h) if cpu_h else None,
        "continuous_decode": ev["continuous_decode"],
        **{f"whole_{m}": round(ev["whole"][m], 3) for m in ("rmsd", "tm", "lddt", "caca_ok")},
        **{f"crop_{m}": round(ev["crop128"][m], 3) for m in ("rmsd", "tm", "lddt", "caca_ok")},
        "usage": round(ev["usage"], 3),
        "perplexity": round(ev["perplexity"], 1),
        "ss3_f1": round(ev["ss3_f1"], 3),
        "ss3_f1_3di": round(base["3di"]["ss3_f1"], 3),
        "ss3_f1_random": round(base["random"]["ss3_f1"], 3),
        "noise_flip": round(ev["noise_flip"], 3),
        "noise_flip_3di": round(base["3di"]["noise_flip"], 3),
    }


def plot_curves(runs: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    colours = plt.get_cmap("tab20").colors
    for i, (name, metrics) in enumerate(sorted(runs.items())):
        cpu = {r["step"]: r["cpu_s"] for r in metrics if r.get("split") == "train" and "cpu_s" in r}
        val = [r for r in metrics if r.get("split") == "val" and r["step"] in cpu]
        if not val:
            continue
        x = [cpu[r["step"]] / 3600 for r in val]
        # 20 colours, then the same colours dashed: every curve stays distinguishable in the legend.
        style = {
            "color": colours[i % 20],
            "ls": "-" if i < 20 else "--",
            "marker": "o",
            "ms": 3,
            "label": name,
        }
        axes[0].plot(x, [r["val/rmsd_median"] for r in val], **style)
        axes[1].plot(x, [r["val/tm_median"] for r in val], **style)
    axes[0].set_ylabel("validation median CA-RMSD (Å)")
    axes[1].set_ylabel("validation median TM-score")
    for ax in axes:
        ax.set_xlabel("CPU hours (training steps, one thread)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("Recipe tournament: 64 held-out chains (first 256 residues), during training")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def report(
    out: Path, runs_dir: Path, plan: dict[str, Any], commands: list[dict[str, str]], scorer_meta: dict
) -> None:
    base = json.loads((out / "baselines.json").read_text())["baselines"]
    rows, curves = [], {}
    for name in plan:
        metrics = _saved_metrics(out, name, runs_dir)
        if metrics:
            curves[name] = metrics
        ev_path = out / "eval" / f"{name}.json"
        if ev_path.exists():
            rows.append(_row(name, json.loads(ev_path.read_text()), metrics, base))
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    plot_curves(curves, out / "curves.png")
    lines = ["# Recipe tournament: the command of every run", ""]
    lines += [f"- `{c['variant']}`: `{c['command']}`" for c in commands]
    (out / "commands.md").write_text("\n".join(lines) + "\n")
    print((out / "results.csv").read_text())


# --------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=None, help="comma-separated names (default: every config)")
    ap.add_argument("--runs-dir", default="runs/tournament", help="training runs (relative to the repo)")
    ap.add_argument("--out", default="benchmarks/results/tournament")
    ap.add_argument("--budget-steps", type=int, default=3000, help="budget in baseline steps")
    ap.add_argument("--lanes", type=int, default=2, help="runs at a time (one thread each)")
    ap.add_argument("--n-whole", type=int, default=128)
    ap.add_argument("--n-probe-train", type=int, default=1000)
    ap.add_argument("--n-probe-test", type=int, default=256)
    ap.add_argument("--skip-train", action="store_true", help="only score finished runs and report")
    ap.add_argument("--report-only", action="store_true", help="only rebuild the table and curves")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    out = REPO / args.out
    (out / "eval").mkdir(parents=True, exist_ok=True)
    runs_dir = Path(args.runs_dir)
    runs_dir = runs_dir if runs_dir.is_absolute() else REPO / runs_dir
    names = args.variants.split(",") if args.variants else sorted(p.stem for p in CONFIGS.glob("*.toml"))
    plan_path = out / "plan.json"
    saved = _update_plan(plan_path)
    if not (args.skip_train or args.report_only):
        todo = [n for n in names if n not in saved["plan"]]
        saved = _update_plan(plan_path, plan=calibrate(todo, runs_dir, args.budget_steps, args.lanes))
        plan = saved["plan"]
        saved = _update_plan(
            plan_path, commands=train_all({n: plan[n] for n in names}, runs_dir, args.runs_dir, args.lanes)
        )
    plan = saved["plan"]
    if not args.report_only:
        cached = out / "baselines.json"
        scorer = Scorer(
            args.n_whole,
            args.n_probe_train,
            args.n_probe_test,
            cached=json.loads(cached.read_text()) if cached.exists() else None,
        )
        (out / "baselines.json").write_text(
            json.dumps({"baselines": scorer.baselines, **scorer.meta}, indent=1) + "\n"
        )
        for name in names:
            run_dir = runs_dir / name
            if name not in plan or not _finished(run_dir, plan[name]["steps"]):
                print(f"{name}: not finished, not scored", flush=True)
                continue
            print(f"scoring {name}", flush=True)
            ev = scorer.score(run_dir)
            (out / "eval" / f"{name}.json").write_text(json.dumps(ev, indent=1) + "\n")
    saved = _update_plan(plan_path)
    report(out, runs_dir, saved["plan"], saved["commands"], {})


def _update_plan(
    path: Path, plan: dict[str, Any] | None = None, commands: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """Merge calibrations and run commands into ``plan.json`` and return its content. The file is read
    again first, so that an instance that only scores never drops what a training instance beside it
    wrote."""
    saved = json.loads(path.read_text()) if path.exists() else {"plan": {}, "commands": []}
    saved["plan"].update(plan or {})
    by_variant = {c["variant"]: c for c in saved["commands"]}
    by_variant.update({c["variant"]: c for c in commands or []})
    saved["commands"] = [by_variant[n] for n in saved["plan"] if n in by_variant]
    if plan or commands or not path.exists():
        path.write_text(json.dumps(saved, indent=1) + "\n")
    return saved


if __name__ == "__main__":
    main()

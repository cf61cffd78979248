"""Turn a training checkpoint into a released, versioned model folder with a model card.

    python -m protok.training.release runs/provq_small_v1 protok-provq-small-v1 \
        --eval benchmarks/results/eval_provq_small_v1.json --command "protok train ..." --note "..."

writes ``protok/models/weights/<name>/`` (``config.json`` with the card, ``model.safetensors``, and a
human-readable ``MODEL_CARD.md``). Only the model weights are copied (no optimizer state, no training-only
heads such as the token-local head). A released name is
frozen: re-releasing an existing name is refused unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

import torch

from protok.errors import CheckpointError
from protok.models import load_model, save_model
from protok.models.registry import WEIGHTS_DIR

__all__ = ["build_card", "release_model"]


def _run_dir(checkpoint: Path) -> Path | None:
    for p in (checkpoint, *checkpoint.parents):
        if (p / "metrics.jsonl").is_file():
            return p
    return None


def build_card(
    checkpoint: str | Path,
    name: str,
    evaluation: dict[str, Any] | None = None,
    *,
    command: str | None = None,
    note: str | None = None,
    hardware: str | None = None,
) -> dict[str, Any]:
    """Model card from a checkpoint's trainer state, its run folder and an evaluation summary.

    Parameters
    ----------
    checkpoint : path
        A training run folder, its ``checkpoints/`` folder or one ``step_*`` folder.
    name : str
        The released name.
    evaluation : dict, optional
        ``summary`` of ``benchmarks/evaluate_model.py``'s JSON output.
    command, note : str, optional
        The training command line and a free-text note (hardware sharing, caveats), kept in the card.
    hardware : str, optional
        What the model was trained on (default: this machine's CPU, no GPU).
    """
    from protok.models.registry import model_folder

    folder = model_folder(checkpoint)
    state_path = folder / "trainer_state.json"
    if not state_path.is_file():
        raise CheckpointError(f"{folder}: no trainer_state.json (not a training checkpoint)")
    state = json.loads(state_path.read_text())
    cfg = state.get("config", {})
    run = _run_dir(folder)
    wall_min = None
    if run is not None:
        wall_min = round(
            ((run / "metrics.jsonl").stat().st_mtime - (run / "config.json").stat().st_mtime) / 60, 1
        )
    data = cfg.get("data", {})
    optim = cfg.get("optim", {})
    return {
        "name": name,
        "quantizer": cfg.get("model", {}).get("quantizer", {}),
        "training": {
            "steps": state.get("step"),
            "total_steps": cfg.get("run", {}).get("total_steps"),
            "batch_size": data.get("batch_size"),
            "crop_length": data.get("crop_length"),
            "optimizer": {
                k: optim.get(k) for k in ("lr", "betas", "weight_decay", "warmup_steps", "grad_clip")
            },
            "final_alpha": state.get("alpha"),
            "wall_time_min": wall_min,
            "cpu_hours": round(float(state["cpu_s"]) / 3600, 2) if state.get("cpu_s") else None,
            **({"fine_tune_from_step": state["init_step"]} if state.get("init_step") is not None else {}),
            "hardware": hardware
            or f"{platform.machine()} CPU ({torch.get_num_threads()} threads available), no GPU",
            "last_validation": state.get("val"),
            **({"command": command} if command else {}),
            **({"note": note} if note else {}),
        },
        "data": {
            "train": "ProMod3 structure database export: 19,586 PDB chains, backbones (PDB coordinates, CC0)",
            "split": (
                "deterministic: whole SCOP2 superfamilies on one side where labelled, k-mer MinHash sequence "
                f"groups otherwise; val_fraction={data.get('val_fraction')}, split_seed={data.get('split_seed')}"
            ),
        },
        "evaluation": evaluation or {},
        "license": "MIT (weights); training coordinates from the PDB (CC0)",
    }


def _card_markdown(card: dict[str, Any]) -> str:
    ev = card.get("evaluation", {})
    tr = card["training"]
    cost = (
        f"{tr['cpu_hours']} CPU-hours of training steps"
        if tr.get("cpu_hours") is not None
        else f"{tr['wall_time_min']} min wall"
    )
    phase = (
        f" The last phase started from step {tr['fine_tune_from_step']} (warm start, `run.init_from`)."
        if tr.get("fine_tune_from_step") is not None
        else ""
    )
    lines = [
        f"# {card['name']}",
        "",
        f"Quantizer: `{card['quantizer'].get('kind')}` (K = {card['quantizer'].get('codebook_size')}, "
        f"D = {card['quantizer'].get('dim')}).",
        f"Training: {tr['steps']} of {tr['total_steps']} steps, batch {tr['batch_size']} crops of "
        f"{tr['crop_length']} residues, {cost} on {tr['hardware']}.{phase}",
    ]
    if tr.get("command"):
        lines.append(f"Trained with `{tr['command']}`" + (f"; {tr['note']}" if tr.get("note") else "."))
    elif tr.get("note"):
        lines.append(tr["note"])
    lines += [
        "",
        f"Data: {card['data']['train']}. Split: {card['data']['split']}.",
        "",
    ]
    if ev:
        med = ev.get("median", {})
        lines += [
            f"Held-out round trip ({ev.get('chains')} whole validation chains, tokens only -> backbone):",
            "",
            "| median CA-RMSD (Å) | median backbone RMSD (Å) | median TM-score | median lDDT-CA | codes used | perplexity |",
            "|---|---|---|---|---|---|",
            f"| {med.get('ca_rmsd', float('nan')):.2f} | {med.get('bb_rmsd', float('nan')):.2f} | "
            f"{med.get('tm', float('nan')):.3f} | {med.get('lddt_ca', float('nan')):.3f} | "
            f"{ev.get('codes_used')} / {ev.get('codebook_size')} | {ev.get('perplexity', float('nan')):.1f} |",
            "",
            *_validity_lines(ev),
            *_robustness_lines(ev),
            f"Reproduce: `{ev.get('command')}`",
        ]
    return "\n".join(lines) + "\n"


def _validity_lines(ev: dict[str, Any]) -> list[str]:
    """Validity of the decoded chains (idealized form) beside the input chains, when evaluated."""
    val = ev.get("validity") or {}
    if "idealized" not in val or "input" not in val:
        return []
    dec, given = val["idealized"], val["input"]
    return [
        f"Decoded chains: {100 * dec['caca_ok']:.1f} % of consecutive CA-CA distances within 3.8 ± 0.2 Å "
        f"(input chains {100 * given['caca_ok']:.1f} %), {dec['clashes_per_residue']:.3f} CA-CA clashes per "
        f"residue (input {given['clashes_per_residue']:.3f}).",
        "",
    ]


def _robustness_lines(ev: dict[str, Any]) -> list[str]:
    """Token changes under noise and under a rigid motion written to a PDB file, with Foldseek 3Di."""
    rob = ev.get("robustness") or {}
    noise, rigid = rob.get("noise"), rob.get("rotated_pdb")
    if not noise or not rigid:
        return []

    def count(r: dict[str, Any]) -> str:
        return f"{r['changed']:,} of {r['compared']:,}"

    return [
        f"Tokens changed by {noise.get('sigma')} Å Gaussian noise: {100 * noise['model']['share']:.1f} % "
        f"(3Di {100 * noise['3di']['share']:.1f} %); by a rigid motion written to a PDB file: "
        f"{count(rigid['model'])} (3Di {count(rigid['3di'])}).",
        "",
    ]


def release_model(
    checkpoint: str | Path,
    name: str,
    *,
    evaluation: dict[str, Any] | None = None,
    weights_dir: str | Path = WEIGHTS_DIR,
    overwrite: bool = False,
    command: str | None = None,
    note: str | None = None,
    hardware: str | None = None,
) -> Path:
    """Copy a checkpoint's model into ``weights_dir/name`` with a model card; returns the folder."""
    target = Path(weights_dir) / name
    if target.exists() and not overwrite:
        raise CheckpointError(f"{target}: released model {name!r} exists; released names are frozen")
    card = build_card(checkpoint, name, evaluation, command=command, note=note, hardware=hardware)
    model = load_model(checkpoint)
    save_model(model, target, card=card, training_heads=False)
    (target / "MODEL_CARD.md").write_text(_card_markdown(card))
    return target


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Release a training checkpoint as a versioned protok model.")
    ap.add_argument("checkpoint")
    ap.add_argument("name")
    ap.add_argument("--eval", dest="eval_json", default=None, help="JSON from benchmarks/evaluate_model.py")
    ap.add_argument("--weights-dir", default=str(WEIGHTS_DIR))
    ap.add_argument("--overwrite", action="store_true")
    ap.add_argument("--command", default=None, help="the training command line, kept in the card")
    ap.add_argument("--note", default=None, help="free-text note for the card (hardware sharing, caveats)")
    args = ap.parse_args(argv)
    evaluation = json.loads(Path(args.eval_json).read_text())["summary"] if args.eval_json else None
    out = release_model(
        args.checkpoint,
        args.name,
        evaluation=evaluation,
        weights_dir=args.weights_dir,
        overwrite=args.overwrite,
        command=args.command,
        note=args.note,
    )
    print(out)


if __name__ == "__main__":
    main()

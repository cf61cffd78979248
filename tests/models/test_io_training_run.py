"""load_model follows a training run's ``checkpoints/latest.json`` pointer."""

from __future__ import annotations

import json

import pytest
import torch

from protok.errors import CheckpointError
from protok.models import ProtokModel, load_model, save_model


def test_load_model_from_training_run_folder(tmp_path, tiny_config):
    model = ProtokModel(tiny_config)
    run = tmp_path / "run"
    save_model(model, run / "checkpoints" / "step_00000007")
    (run / "config.json").write_text(json.dumps({"not": "a model config"}))  # the training config
    (run / "checkpoints" / "latest.json").write_text(json.dumps({"path": "step_00000007", "step": 7}))
    for where in (run, run / "checkpoints"):
        loaded = load_model(where)
        for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
            assert torch.equal(a, b), k


def test_bad_pointer_is_a_typed_error(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "latest.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="pointer"):
        load_model(tmp_path)

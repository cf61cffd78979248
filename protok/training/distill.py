"""Encoder distillation: a cheaper encoder trained to give a released model's tokens.

With ``[distill] teacher = "<model name or folder>"`` a training run becomes a distillation: the model of
the config (the student) takes the teacher's quantizer, decoder and every other part it shares with it,
frozen, and trains only its own encoder (fewer layers or neighbours than the teacher's, so tokenizing is
cheaper). Each step encodes the batch with both encoders (the teacher on its own kNN graph, rebuilt with
:func:`protok.graph.regraph`) and pulls the student's vectors to the teacher's in code-cell units: the
token-consistency term of :func:`protok.models.consistency.consistency_loss`, with the teacher's vectors
where the clean copy's are (``distill.vector_weight``), and adds a cross-entropy of the teacher's codes
under a softmax over the student's distances to the codes (:func:`code_loss`, ``distill.code_weight``):
the teacher's vectors lie far from their codes compared with the gap to the next code (on the v2 model,
25 against 30 units, for vectors of length 82), so matching the vectors alone gives the same tokens only
when it is nearly exact, while the cross-entropy asks only for the right cell. The share of residues whose
student token differs from the teacher's is logged as ``stats/disagreement``. Validation decodes the
student's own tokens, fully discrete.

A student config is the teacher's model config with another encoder; name the teacher as ``model.preset``
and override ``[model.encoder]``::

    [model]
    preset = "protok-provq-small-v2"
    name = "protok-provq-small-v2-fast"
    [model.encoder]
    num_layers = 3
    k = 16
    [distill]
    teacher = "protok-provq-small-v2"
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from protok.errors import ConfigError
from protok.training.config import DistillConfig

__all__ = ["Distiller", "STUDENT_MODULES", "code_loss"]

log = logging.getLogger(__name__)

#: The student's own (trained) parts; everything else is the teacher's, frozen.
STUDENT_MODULES = ("encoder",)


def _student_part(name: str) -> bool:
    return name.split(".", 1)[0] in STUDENT_MODULES


class Distiller:
    """The frozen teacher and the distillation step of one run.

    Parameters
    ----------
    cfg : DistillConfig
    device : torch.device
    """

    def __init__(self, cfg: DistillConfig, device: torch.device) -> None:
        from protok.models.io import load_model

        self.cfg = cfg
        self.teacher = load_model(cfg.teacher, device, inference=True)
        self.teacher.requires_grad_(False)

    def prepare(self, student: nn.Module) -> None:
        """Copy the teacher's shared parts into ``student`` and freeze them (and, with ``init_encoder``,
        the matching encoder parameters, left trainable).

        Raises
        ------
        ConfigError
            A part outside the encoder whose names or shapes differ from the teacher's: the student would
            not read the teacher's tokens as the teacher does.
        """
        teacher_state = self.teacher.state_dict()
        frozen_roots = _frozen_roots(self.teacher)
        copied = 0
        with torch.no_grad():
            for name, tensor in student.state_dict(keep_vars=True).items():
                source = teacher_state.get(name)
                same = source is not None and source.shape == tensor.shape
                if _student_part(name):
                    if self.cfg.init_encoder and same:
                        tensor.copy_(source)
                        copied += 1
                    continue
                if name.split(".", 1)[0] not in frozen_roots:
                    continue  # a training-only head the released teacher has not got
                if not same:
                    raise ConfigError(
                        f"distill.teacher {self.cfg.teacher!r}: student {name} "
                        f"{tuple(tensor.shape)} differs from the teacher's "
                        f"{None if source is None else tuple(source.shape)}; only the encoder may differ"
                    )
                tensor.copy_(source)
        for name, param in student.named_parameters():
            if not _student_part(name):
                param.requires_grad_(False)
        log.info(
            "distilling %s: decoder, quantizer and the rest frozen; %d encoder tensors started from it",
            self.cfg.teacher,
            copied,
        )

    def step(self, student: Any, batch: Any) -> Any:
        """The distillation loss of ``batch`` as a :class:`~protok.models.model.ModelOutput`-like record:
        ``loss`` (the weighted sum of ``losses["distill_vector"]`` and ``losses["distill_code"]``) and
        ``stats`` (``disagreement``)."""
        from protok.graph.build import regraph
        from protok.models.consistency import consistency_loss

        mask = batch.node_mask.bool()
        with torch.no_grad():
            teacher_view = regraph(batch, batch.coords, k=self.teacher.config.encoder.k)
            u_teacher, codes = self.teacher.quantizer.lookup_space(self.teacher.embed(teacher_view))
        u_student, _ = student.quantizer.lookup_space(student.embed(batch))
        vector, flips = consistency_loss(u_student, u_teacher, codes, mask)
        code = code_loss(u_student[mask], u_teacher[mask], codes, self.cfg.temperature)
        loss = self.cfg.vector_weight * vector + self.cfg.code_weight * code
        losses = {"distill_vector": vector.detach(), "distill_code": code.detach()}
        return _DistillOutput(loss, losses, {"disagreement": float(flips)})


def code_loss(student: Tensor, teacher: Tensor, codes: Tensor, temperature: float) -> Tensor:
    """Cross-entropy of the teacher's codes under a softmax over the student's negative squared distances
    to the codes, in units of ``temperature`` times the teacher's mean margin (the squared distance to its
    second-nearest code minus that to its nearest): scale-free, like the vector term.

    Parameters
    ----------
    student, teacher : Tensor, shape=(M, d)
        Vectors in the lookup space (gradients flow through ``student``).
    codes : Tensor, shape=(K, d)
    temperature : float

    Returns
    -------
    Tensor, scalar, float32 (0 when M = 0)
    """
    from protok.models.consistency import squared_distances

    if student.shape[0] == 0 or codes.shape[0] < 2:
        return student.float().sum() * 0.0
    with torch.no_grad():
        nearest = squared_distances(teacher, codes.detach()).topk(2, largest=False)
        target = nearest.indices[:, 0]
        unit = temperature * (nearest.values[:, 1] - nearest.values[:, 0]).mean().clamp_min(1e-12)
    logits = -squared_distances(student, codes.detach()) / unit
    return F.cross_entropy(logits, target)


def _frozen_roots(teacher: nn.Module) -> set[str]:
    return {name.split(".", 1)[0] for name in teacher.state_dict()} - set(STUDENT_MODULES)


@dataclass
class _DistillOutput:
    loss: Tensor
    losses: dict[str, Tensor]
    stats: dict[str, float]

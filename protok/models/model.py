"""ProtokModel: encoder + quantizer + decoder, one config dataclass, safetensors + JSON on disk.

Final API (what training and the tokenizer API code against)
------------------------------------------------------------
::

    from protok.models import MODEL_PRESETS, ModelConfig, ProtokModel, save_model, load_model

    cfg = ModelConfig.preset("small")             # or MODEL_PRESETS["small"]; ModelConfig.from_dict(d)
    model = ProtokModel(cfg)
    out = model(batch, progress=0.3)              # batch: torch_geometric Batch (or Data) of build_graph()
    out.loss.backward()                           # ModelOutput: loss, losses, stats, indices (N,),
                                                  #   pred_coords (N,4,3) flat PyG order, quantized (N,D)
    idx = model.encode(batch)                     # (N,) long, eval + fully discrete, -1 where node_mask False
    z = model.embed(batch)                        # (N, D) pre-quantization vectors
    xyz = model.decode(idx, batch.residue_idx, batch.chain_idx, batch.chain_break, batch.batch)  # (N,4,3)
    save_model(model, "dir", card={...}); model = load_model("dir" or "protok-provq-small-v0")

``progress`` in [0, 1] (fraction of training done) goes to the quantizer (ProVQ hardness schedule).
``decode`` also accepts code vectors (N, D) float instead of indices. Padding to dense (B, L) uses
:func:`protok.models.dense.to_dense` (``torch_geometric.utils.to_dense_batch`` without its import); residues
without a frame (``node_mask`` False) get index -1 and the decoder sees a learned "no code" vector for them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from protok._precision import full_precision
from protok.config import config_from_dict, config_to_dict
from protok.errors import ConfigError
from protok.graph.build import regraph
from protok.metrics import backbone_rmsd, ca_rmsd, lddt_ca
from protok.models.consistency import consistency_loss, noisy_coordinates
from protok.models.context import ChainContext
from protok.models.decoder import Decoder, DecoderConfig
from protok.models.encoder_config import ENCODER_PRESETS, EncoderConfig
from protok.models.encoder_torch import PlainTorchEncoder
from protok.models.losses import LossConfig, reconstruction_losses
from protok.models.token_local import (
    TokenLocalHead,
    dssp_local_targets,
    token_dssp_loss,
    token_local_loss,
    token_local_targets,
    token_window_loss,
    token_window_targets,
)
from protok.quantizers.base import Quantizer
from protok.quantizers.config import QuantizerConfig
from protok.quantizers.distributed import get_rank
from protok.quantizers.registry import build_quantizer

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["MODEL_PRESETS", "TRAINING_ONLY_MODULES", "ModelConfig", "ModelOutput", "ProtokModel"]

#: Sections a saved ModelConfig must have (the others default).
_REQUIRED_SECTIONS = ("encoder", "quantizer", "decoder")

#: Submodules that serve training only: built by a training model when its config asks for them, never
#: by an inference model, and left out of released weights (:func:`protok.models.io.save_model`).
TRAINING_ONLY_MODULES: tuple[str, ...] = ("token_local_head",)


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a :class:`ProtokModel` (saved into every checkpoint; frozen).

    Attributes
    ----------
    name : str
        Free-form model name (e.g. ``"protok-provq-small"``).
    encoder : EncoderConfig
    quantizer : QuantizerConfig
        ``quantizer.dim`` is the code dimension D; the encoder output is projected to D when
        ``encoder.out_dim`` differs.
    decoder : DecoderConfig
        ``decoder.input_dim`` must equal ``quantizer.dim``.
    loss : LossConfig
    latent_norm : bool
        LayerNorm on the (projected) encoder output before quantization (default True; configs saved
        without the field load as False).
    context_layers : int
        Transformer layers over each whole complex between the GNN encoder and quantization
        (:class:`~protok.models.context.ChainContext`; 0 = none, a purely local token).
    context_heads : int
        Attention heads of those layers.
    """

    name: str = "protok"
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    latent_norm: bool = True
    context_layers: int = 0
    context_heads: int = 4

    def __post_init__(self) -> None:
        if self.decoder.input_dim != self.quantizer.dim:
            raise ConfigError(
                f"ModelConfig {self.name!r}: decoder.input_dim={self.decoder.input_dim} must equal "
                f"quantizer.dim={self.quantizer.dim}"
            )
        if self.loss.n_dist_bins != self.decoder.n_dist_bins:
            raise ConfigError(
                f"ModelConfig {self.name!r}: loss.n_dist_bins={self.loss.n_dist_bins} must equal "
                f"decoder.n_dist_bins={self.decoder.n_dist_bins}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-serialisable)."""
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>", key: str = "") -> ModelConfig:
        """Inverse of :meth:`to_dict` (:func:`protok.config.config_from_dict`).

        ``encoder``, ``quantizer`` and ``decoder`` are required; a missing ``latent_norm`` reads as False
        (configs saved before it existed), other missing fields take their defaults.

        Raises
        ------
        ConfigError
            Missing section, unknown key, wrong type or inconsistent sizes, naming ``source`` and the
            dotted key (``key`` is that of ``data`` in a larger tree).
        """
        if isinstance(data, Mapping):
            missing = [s for s in _REQUIRED_SECTIONS if s not in data]
            if missing:
                raise ConfigError(f"{source}: {key or 'ModelConfig'} is missing section(s) {sorted(missing)}")
            data = {"latent_norm": False, **data}
        return config_from_dict(cls, data, source=source, key=key)

    @classmethod
    def preset(cls, name: str) -> ModelConfig:
        """A copy of ``MODEL_PRESETS[name]``; derive variants with ``dataclasses.replace``."""
        try:
            return cls.from_dict(MODEL_PRESETS[name].to_dict())
        except KeyError:
            raise ConfigError(f"unknown model preset {name!r}; known: {sorted(MODEL_PRESETS)}") from None


#: Named model configurations (data, not code). Code dimension D = 128 for both, the ESM3 structure
#: tokenizer's code size (4096 x 128): large enough for the decoder to rebuild a backbone from one
#: vector per residue, small enough that nearest-code search over K codes stays cheap and that the code
#: vectors are what StructTokenBench's probes embed. K = 512 codes, as StructTokenBench's VQ/AminoAseed.
MODEL_PRESETS: dict[str, ModelConfig] = {
    # CPU-trainable: small encoder (128-d output), 4-layer 128-wide decoder with 2 refinement steps.
    "small": ModelConfig(
        encoder=ENCODER_PRESETS["small"],
        quantizer=QuantizerConfig(kind="provq", codebook_size=512, dim=128),
        decoder=DecoderConfig(input_dim=128, d_model=128, n_layers=4, n_heads=4, ffn_mult=4, n_refine=2),
        loss=LossConfig(),
        name="protok-provq-small",
    ),
    # GPU: larger encoder (256-d output, projected to D = 128), 8-layer 512-wide decoder.
    "base": ModelConfig(
        encoder=ENCODER_PRESETS["base"],
        quantizer=QuantizerConfig(kind="provq", codebook_size=512, dim=128),
        decoder=DecoderConfig(input_dim=128, d_model=512, n_layers=8, n_heads=8, ffn_mult=4, n_refine=3),
        loss=LossConfig(),
        name="protok-provq-base",
    ),
}


@dataclass
class ModelOutput:
    """Result of :meth:`ProtokModel.forward`.

    Attributes
    ----------
    loss : Tensor, scalar
        Weighted total (reconstruction + quantizer).
    losses : dict of str to Tensor
        Unweighted terms: ``distance``, ``direction``, ``distogram`` and the quantizer's as ``q_<name>``;
        ``consistency`` (training mode) and ``token_local`` when their weights are > 0.
    stats : dict of str to float
        Quantizer statistics (``perplexity``, ``usage``, ``alpha``, ...) and metrics computed under
        no_grad: ``ca_rmsd``, ``bb_rmsd`` (Å, mean over complexes) and ``lddt_ca``; with the consistency
        term also ``consistency_flips`` (share of residues whose nearest code differs in the noisy copy).
    indices : Tensor, shape=(N,), dtype=long
        Code per residue (-1 where ``node_mask`` is False).
    pred_coords : Tensor, shape=(N, 4, 3)
        Predicted backbone in the batch's flat (PyG) residue order, in an arbitrary global frame.
    quantized : Tensor, shape=(N, D)
        What the decoder received.
    """

    loss: Tensor
    losses: dict[str, Tensor]
    stats: dict[str, float]
    indices: Tensor
    pred_coords: Tensor
    quantized: Tensor


def _batch_vector(data: Data) -> Tensor:
    b = getattr(data, "batch", None)
    if b is None:
        return torch.zeros(data.num_nodes, dtype=torch.long, device=data.node_mask.device)
    return b


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Temporarily put ``module`` (and all children) in eval mode; restore each one's flag after.

    A module already in eval mode is taken as is (``eval()`` / ``train()`` set every child, and protok sets
    modes only that way): it saves walking the model's ~170 submodules twice on every encoder call.
    """
    if not module.training:
        yield
        return
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


class ProtokModel(nn.Module):
    """The protok tokenizer model. See the module docstring for the API.

    Parameters
    ----------
    config : ModelConfig
    inference : bool
        Build the encoder as :class:`~protok.models.encoder_torch.PlainTorchEncoder` when the config allows it
        (``lmax = 1``): the same parameters and outputs without importing e3nn, and no training-only heads
        (:data:`TRAINING_ONLY_MODULES`), for tokenizing. Keep the default (e3nn's
        :class:`~protok.models.encoder.Encoder`) for training.
    """

    def __init__(self, config: ModelConfig, *, inference: bool = False) -> None:
        super().__init__()
        self.config = config
        self.encoder: nn.Module
        if inference and PlainTorchEncoder.supports(config.encoder):
            # Same parameters and function without e3nn (fast to import and build); inference only.
            self.encoder = PlainTorchEncoder(config.encoder)
        else:
            from protok.models.encoder import Encoder

            self.encoder = Encoder(config.encoder)
        d = config.quantizer.dim
        proj: nn.Module = (
            nn.Identity() if config.encoder.out_dim == d else nn.Linear(config.encoder.out_dim, d)
        )
        # A LayerNorm on the latent keeps the encoder output at a fixed scale, so the codebook can follow
        # it: without it, vanilla VQ's codebook/commitment losses grew to ~200 and usage collapsed to
        # 3 of 512 codes within 180 steps on ProMod3 chains (runs/vq_small, lr 1e-3).
        self.pre_quant: nn.Module = nn.Sequential(proj, nn.LayerNorm(d)) if config.latent_norm else proj
        self.context: ChainContext | None = None
        if config.context_layers > 0:
            self.context = ChainContext(config.encoder.out_dim, config.context_layers, config.context_heads)
        self.quantizer: Quantizer = build_quantizer(config.quantizer)
        self.decoder = Decoder(config.decoder)
        #: What the decoder sees for residues without a code (no frame): index -1.
        self.no_code = nn.Parameter(torch.zeros(d))
        #: Streams of the consistency term's coordinate noise, one per device (saved in training checkpoints).
        self._noise_generators: dict[str, torch.Generator] = {}
        self.token_local_head: TokenLocalHead | None = None
        if config.loss.token_local_weight > 0 and not inference:
            loss_cfg = config.loss
            self.token_local_head = TokenLocalHead(
                d,
                loss_cfg.token_local_hidden,
                loss_cfg.token_local_window,
                loss_cfg.token_local_span,
                loss_cfg.token_local_dssp,
            )

    @property
    def continuous(self) -> bool:
        """True for a continuous-ceiling model: ProVQ whose hardness never rises (``anneal_start = 1``)."""
        q = self.config.quantizer
        return q.kind == "provq" and q.anneal_start >= 1.0

    @property
    def codebook_size(self) -> int:
        return int(self.config.quantizer.codebook_size)

    # ----------------------------------------------------------------- pieces
    def embed(self, batch: Data) -> Tensor:
        """Pre-quantization vectors, shape=(N, D) (unit length with a cosine quantizer)."""
        h = self.encoder(batch)
        if self.context is not None:
            h = self.context(h, batch)
        z = self.pre_quant(h)
        return F.normalize(z, dim=-1) if self.config.quantizer.cosine else z

    @torch.no_grad()
    def encode(self, batch: Data) -> Tensor:
        """Discrete tokens (eval mode, fully discrete, deterministic).

        Returns
        -------
        Tensor, shape=(N,), dtype=long
            Code index per residue; -1 where ``node_mask`` is False.
        """
        with _eval_mode(self):
            z = self.embed(batch)
            mask = batch.node_mask.bool()
            idx = self.quantizer.indices(z, mask).long()
            return torch.where(mask, idx, torch.full_like(idx, -1))

    def codes_for(self, indices: Tensor) -> Tensor:
        """Decoder input for indices (N,): the code vectors, the learned no-code vector where -1."""
        idx = indices.long()
        if idx.numel() and (int(idx.max()) >= self.codebook_size or int(idx.min()) < -1):
            raise ValueError(f"token indices must be in [-1, {self.codebook_size - 1}]")
        codes = self.quantizer.indices_to_codes(idx)
        return torch.where((idx >= 0)[:, None], codes, self.no_code.to(codes.dtype).expand_as(codes))

    def decode(
        self,
        indices_or_codes: Tensor,
        residue_idx: Tensor,
        chain_idx: Tensor,
        chain_break: Tensor,
        batch: Tensor | None = None,
    ) -> Tensor:
        """Backbone coordinates from tokens (or code vectors) and residue/chain layout alone.

        Parameters
        ----------
        indices_or_codes : Tensor, shape=(N,) long or (N, D) float
            Token indices (-1 = no code) or code vectors.
        residue_idx, chain_idx : Tensor, shape=(N,), dtype=long
        chain_break : Tensor, shape=(N,), dtype=bool
        batch : Tensor, shape=(N,), dtype=long, optional
            Complex number of each residue (PyG ``batch`` vector); None = one complex.

        Returns
        -------
        Tensor, shape=(N, 4, 3)
            N, CA, C, O in Å, in an arbitrary global frame per complex.
        """
        if indices_or_codes.is_floating_point():
            codes = indices_or_codes.to(self.no_code.dtype)
        else:
            codes = self.codes_for(indices_or_codes)
        out, mask = self._decode_dense(codes, residue_idx, chain_idx, chain_break, batch, distogram=False)
        return out.coords[mask]

    def _decode_dense(self, codes, residue_idx, chain_idx, chain_break, batch, *, distogram: bool):
        from protok.models.dense import to_dense  # torch_geometric's to_dense_batch, without its import

        x, mask = to_dense(codes, batch)
        ri, _ = to_dense(residue_idx.long(), batch)
        ci, _ = to_dense(chain_idx.long(), batch)
        cb, _ = to_dense(chain_break.bool(), batch)
        out = self.decoder(x, ri, ci, cb, mask, return_distogram=distogram)
        return out, mask

    # ---------------------------------------------------------------- training
    def forward(self, batch: Data, progress: float = 1.0) -> ModelOutput:
        """Encode, quantize, decode and score one batch.

        Parameters
        ----------
        batch : torch_geometric Data or Batch
            Graphs from :func:`protok.graph.build_graph` (needs the encoder fields plus ``coords``,
            ``atom_mask``, ``node_mask``, ``residue_idx``, ``chain_idx``, ``chain_break``).
        progress : float
            Fraction of training done, in [0, 1], passed to the quantizer.

        Returns
        -------
        ModelOutput
        """
        node_mask = batch.node_mask.bool()
        z = self.embed(batch)
        q = self.quantizer(z, mask=node_mask, progress=float(progress))
        # A continuous model (ProVQ hardness held at 0 for all of training: anneal_start = 1) decodes its
        # latents in eval too, so its validation measures the continuous ceiling; encode() still gives codes.
        passed = z if self.continuous else q.quantized
        quantized = torch.where(node_mask[:, None], passed, self.no_code.to(passed.dtype))
        bvec = _batch_vector(batch)
        need_dgram = self.config.loss.distogram_weight > 0
        out, mask = self._decode_dense(
            quantized, batch.residue_idx, batch.chain_idx, batch.chain_break, bvec, distogram=need_dgram
        )
        from torch_geometric.utils import to_dense_batch

        target, _ = to_dense_batch(batch.coords.to(out.coords.dtype), bvec)
        atom_mask, _ = to_dense_batch(batch.atom_mask.bool(), bvec)
        ci, _ = to_dense_batch(batch.chain_idx.long(), bvec)
        cb, _ = to_dense_batch(batch.chain_break.bool(), bvec)
        atom_mask = atom_mask & mask[..., None]
        with full_precision(target.device):  # losses on float32 coordinates under bf16 autocast too
            recon, terms = reconstruction_losses(
                out, target.float(), atom_mask, ci, cb, self.config.loss, progress=float(progress)
            )
        loss = recon + self.config.loss.quantizer_weight * q.loss
        losses = dict(terms)
        losses.update({f"q_{k}": v for k, v in q.losses.items()})
        stats = {k: float(v) for k, v in q.stats.items()}
        cfg = self.config.loss
        if self.training and cfg.consistency_weight > 0:
            losses["consistency"], flips = self._consistency(batch, z, node_mask)
            loss = loss + cfg.consistency_weight * losses["consistency"]
            stats["consistency_flips"] = float(flips)
        if self.token_local_head is not None:
            head = self.token_local_head
            pred_local, _ = to_dense_batch(head(quantized), bvec)
            pred_window = (
                to_dense_batch(head.distances(quantized), bvec)[0] if head.window_net is not None else None
            )
            pred_dssp = (
                to_dense_batch(head.dssp_logits(quantized), bvec)[0] if head.dssp_net is not None else None
            )
            with full_precision(target.device):
                local_t, local_ok = token_local_targets(target.float(), atom_mask, ci, cb)
                losses["token_local"] = token_local_loss(pred_local, local_t, local_ok)
                if pred_window is not None:
                    window = token_window_targets(
                        target.float(), atom_mask, ci, cb, cfg.token_local_window, cfg.token_local_span
                    )
                    losses["token_window"] = token_window_loss(pred_window, *window)
                if pred_dssp is not None:
                    losses["token_dssp"] = token_dssp_loss(
                        pred_dssp, *dssp_local_targets(target.float(), atom_mask, ci, cb)
                    )
            local = losses["token_local"] + losses.get("token_window", 0.0) + losses.get("token_dssp", 0.0)
            loss = loss + cfg.token_local_weight * local
        with torch.no_grad():
            pred = out.coords.detach()
            stats["ca_rmsd"] = _nanmean(ca_rmsd(pred, target, atom_mask))
            stats["bb_rmsd"] = _nanmean(backbone_rmsd(pred, target, atom_mask))
            stats["lddt_ca"] = _nanmean(lddt_ca(pred[..., 1, :], target[..., 1, :], atom_mask[..., 1]))
        indices = torch.where(node_mask, q.indices.long(), torch.full_like(q.indices.long(), -1))
        return ModelOutput(
            loss=loss,
            losses=losses,
            stats=stats,
            indices=indices,
            pred_coords=out.coords[mask],
            quantized=quantized,
        )

    def _noise_generator(self, device: torch.device) -> torch.Generator:
        """This device's noise stream: its own generator (not the global one, which data loaders also draw
        from), seeded from the global seed (``run.seed`` in training) and the DDP rank on first use."""
        key = str(device)
        if key not in self._noise_generators:
            seed = (torch.initial_seed() + get_rank()) % 2**63
            self._noise_generators[key] = torch.Generator(device=device).manual_seed(seed)
        return self._noise_generators[key]

    def _consistency(self, batch: Data, z: Tensor, node_mask: Tensor) -> tuple[Tensor, Tensor]:
        """The consistency term and flip rate of a noisy copy of ``batch`` against the clean vectors ``z``
        (:mod:`protok.models.consistency`)."""
        noisy = noisy_coordinates(
            batch.coords, self.config.loss.consistency_noise, self._noise_generator(batch.coords.device)
        )
        z_noisy = self.embed(regraph(batch, noisy))
        u_noisy, codes = self.quantizer.lookup_space(z_noisy)
        with torch.no_grad():
            u_clean, _ = self.quantizer.lookup_space(z.detach())
        return consistency_loss(u_noisy, u_clean, codes, node_mask)


def _nanmean(x: Tensor) -> float:
    x = x[torch.isfinite(x)]
    return float(x.mean()) if x.numel() else float("nan")

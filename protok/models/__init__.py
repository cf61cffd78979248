"""protok.models: encoder, decoder, losses, the assembled ProtokModel, its storage and the model registry."""

from typing import TYPE_CHECKING

from protok._lazy import lazy_attributes
from protok.models.decoder import Decoder, DecoderConfig, DecoderOutput
from protok.models.encoder_config import ENCODER_PRESETS, EncoderConfig
from protok.models.encoder_torch import PlainTorchEncoder
from protok.models.io import load_model, read_config, save_model
from protok.models.losses import LossConfig, reconstruction_losses
from protok.models.model import MODEL_PRESETS, ModelConfig, ModelOutput, ProtokModel
from protok.models.registry import (
    DEFAULT_MODEL,
    ModelSummary,
    available_models,
    list_models,
    model_folder,
    model_summary,
    resolve_model,
)

__all__ = [
    "DEFAULT_MODEL",
    "Decoder",
    "DecoderConfig",
    "DecoderOutput",
    "ENCODER_PRESETS",
    "Encoder",
    "EncoderConfig",
    "LossConfig",
    "MODEL_PRESETS",
    "ModelConfig",
    "ModelOutput",
    "ModelSummary",
    "PlainTorchEncoder",
    "ProtokModel",
    "available_models",
    "list_models",
    "load_model",
    "model_folder",
    "model_summary",
    "read_config",
    "reconstruction_losses",
    "resolve_model",
    "save_model",
]

# The e3nn encoder is imported on first use: inference (PlainTorchEncoder) does not need e3nn, which takes
# seconds to import.
if TYPE_CHECKING:
    from protok.models.encoder import Encoder
else:
    __getattr__, __dir__ = lazy_attributes(__name__, {"Encoder": "protok.models.encoder"})

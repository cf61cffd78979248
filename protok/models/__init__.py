"""protok.models: encoder, decoder, losses, the assembled ProtokModel, its storage and the model registry."""

from protok.models.decoder import Decoder, DecoderConfig, DecoderOutput
from protok.models.encoder import ENCODER_PRESETS, Encoder, EncoderConfig
from protok.models.io import load_model, read_config, save_model
from protok.models.losses import LossConfig, reconstruction_losses
from protok.models.model import MODEL_PRESETS, ModelConfig, ModelOutput, ProtokModel
from protok.models.registry import DEFAULT_MODEL, available_models, list_models, resolve_model

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
    "ProtokModel",
    "available_models",
    "list_models",
    "load_model",
    "read_config",
    "reconstruction_losses",
    "resolve_model",
    "save_model",
]

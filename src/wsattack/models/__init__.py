from wsattack.models import mnist_cnn, resnet  # noqa: F401  (registers the architectures)
from wsattack.models.build import build_model
from wsattack.models.checkpoint import read_checkpoint, save_checkpoint
from wsattack.models.registry import MODELS, register_model
from wsattack.models.wrappers import Classifier
from wsattack.models.zoo import ZOO

__all__ = [
    "MODELS",
    "ZOO",
    "Classifier",
    "build_model",
    "read_checkpoint",
    "register_model",
    "save_checkpoint",
]

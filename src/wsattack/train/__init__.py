from wsattack.train.evaluate import accuracy, predict
from wsattack.train.trainer import BatchTransform, Trainer

__all__ = ["BatchTransform", "Trainer", "accuracy", "predict"]

from wsattack.data.datasets import DATASETS, build_dataset
from wsattack.data.image_data import ImageData
from wsattack.data.synthetic import synthetic_images

__all__ = ["DATASETS", "ImageData", "build_dataset", "synthetic_images"]

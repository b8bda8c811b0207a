"""Where a binarized model's binarization happens when it is attacked.

`model` (the defense as deployed): inside the model, on every image the attack tries, with a
straight-through gradient; the adversarial images are judged binarized. `input` (the protocol
of Wong et al.'s attack_mnist.py, behind their README's 14 % at eps 1.0): the clean images are
binarized once, before the attack, and the plain network is attacked, so the adversarial images
are not binarized. Both are legitimate and measure different things.
"""

from __future__ import annotations

from dataclasses import replace

from wsattack.data.image_data import ImageData
from wsattack.errors import ConfigError
from wsattack.models.wrappers import Classifier
from wsattack.registry import Registry

THRESHOLD = 0.5  # the wrappers' Binarize and the authors' (x > 0.5)

# name -> (model, data) -> (the model to attack, the images to attack)
BINARIZE_AT: Registry = Registry("model.binarize_at")


@BINARIZE_AT.register("model")
def _inside_the_model(model: Classifier, data: ImageData) -> tuple[Classifier, ImageData]:
    return model, data


@BINARIZE_AT.register("input")
def _clean_input_once(model: Classifier, data: ImageData) -> tuple[Classifier, ImageData]:
    if not model.preprocessing["binarize"]:
        raise ConfigError(
            "model.binarize_at=input moves a binarized model's binarization to the clean "
            f"images; {model.name} is not binarized (use zoo:wong2019_mnist_binarize or "
            "model.binarize=true)"
        )
    images = (data.images > THRESHOLD).to(data.images.dtype)
    return model.without_binarize(), replace(data, images=images)


def binarize_at(where: str, model: Classifier, data: ImageData) -> tuple[Classifier, ImageData]:
    """The model and data an attack runs on, with the binarization `where` (see the module).

    Examples
    --------
    >>> from wsattack import load_dataset, load_model
    >>> model = load_model("zoo:demo_fashion_mnist_cnn", binarize=True)
    >>> plain, data = binarize_at("input", model, load_dataset("demo", limit=2))
    >>> plain.preprocessing["binarize"], sorted(data.images.unique().tolist())
    (False, [0.0, 1.0])
    >>> x = data.images
    >>> bool((plain(x) == model(x)).all())  # the same function on binarized images
    True
    """
    return BINARIZE_AT.get(where)(model, data)

"""Models by plain arguments: a zoo name, a checkpoint file, or an architecture name."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from wsattack.data.datasets import image_shape_of
from wsattack.errors import ConfigError
from wsattack.models.checkpoint import load_weights, read_checkpoint
from wsattack.models.registry import MODELS
from wsattack.models.wrappers import Classifier
from wsattack.models.zoo import ZOO, fetch, zoo_entry

ZOO_PREFIX = "zoo:"
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
DEFAULT_SHAPE = (1, 28, 28)  # MNIST's, for an architecture built without a dataset


def load_model(
    spec: str | os.PathLike,
    architecture: str | None = None,
    image_shape: tuple[int, int, int] | None = None,
    num_classes: int = 10,
    binarize: bool = False,
    normalize: dict | None = None,
    zoo_dir: str | os.PathLike | None = None,
) -> Classifier:
    """A classifier of [0, 1] images, in eval mode on the CPU.

    Parameters
    ----------
    spec : str or path
        ``"zoo:NAME"`` (or a bare zoo name, see `list_models`): the pretrained model NAME,
        fetched from a local mirror (`zoo_dir`, else ``WSATTACK_ZOO_DIR``), the download cache or
        upstream, checked against its sha256; a checkpoint file (a ``Path``, an existing file,
        or a string ending in ``.pt``, ``.pth``, ``.ckpt`` or holding a path separator); or an
        architecture name (``"mnist_cnn"``, ``"resnet18"``,
        ...) for a randomly initialized network.
    architecture : str, optional
        The network to load the weights into. Taken from the zoo entry or from the checkpoint's
        metadata when None; an upstream checkpoint without metadata needs it.
    image_shape : (C, H, W), optional
        Input shape; by default that of the dataset the weights were trained on, else MNIST's.
    num_classes : int
        Number of classes.
    binarize, normalize
        Preprocessing inside the model (pixels > 0.5, per-channel ``{"mean", "std"}``), added to
        what the zoo entry or checkpoint already asks for, so a binarized model is never run
        without its binarization.
    zoo_dir : str or path, optional
        A local mirror of the zoo laid out like ``../shared/checkpoints``.

    Returns
    -------
    Classifier
        The network with its preprocessing, mapping [0, 1] images to logits.

    Examples
    --------
    >>> model = load_model("zoo:demo_fashion_mnist_cnn")
    >>> model.name, model.training
    ('mnist_cnn', False)
    >>> load_model("resnet_small", image_shape=(3, 32, 32)).name
    'resnet_small'
    """
    name = str(spec).removeprefix(ZOO_PREFIX)
    if isinstance(spec, os.PathLike) or _is_path(str(spec)):
        source, dataset = Path(spec), None
    elif str(spec).startswith(ZOO_PREFIX) or name in ZOO:
        entry = zoo_entry(name)
        if architecture not in (None, entry.model):
            raise ConfigError(f"zoo model {entry.name} is a {entry.model}; use model={entry.model}")
        source, architecture, dataset = fetch(entry, zoo_dir), entry.model, entry.dataset
        binarize = binarize or entry.binarize
    else:
        source, architecture, dataset = None, str(spec), None
    state = None
    if source is not None:
        state, meta = read_checkpoint(source)
        pre = meta.get("preprocessing") or {}
        binarize = binarize or bool(pre.get("binarize"))
        normalize = normalize or pre.get("normalize")
        architecture = architecture or meta.get("model")
        dataset = dataset or meta.get("dataset")
        if architecture is None:
            raise ConfigError(
                f"{source} does not say which network it holds: pass architecture= one of "
                f"{', '.join(MODELS.names())}"
            )
    channels, height, width = image_shape or image_shape_of(dataset) or DEFAULT_SHAPE
    net = MODELS.get(architecture)(channels, num_classes, (height, width))
    if state is not None:
        load_weights(net, state, source)
    if normalize is not None:
        normalize = {"mean": list(normalize["mean"]), "std": list(normalize["std"])}
    return Classifier(net, architecture, binarize=binarize, normalize=normalize).eval()


def list_models(pattern: str = "*", pretrained: bool = True) -> list[str]:
    """Names matching a shell-style wildcard, as timm's ``list_models``.

    Parameters
    ----------
    pattern : str
        ``fnmatch`` pattern, e.g. ``"levine2020_*"`` or ``"*_robust"``.
    pretrained : bool
        True: the zoo's pretrained models (for ``load_model("zoo:NAME")``); False: the
        architectures (for ``load_model(NAME)``, random weights).

    Returns
    -------
    list of str
        Sorted names.

    Examples
    --------
    >>> list_models("wong2019_*")
    ['wong2019_mnist_adv_training', 'wong2019_mnist_binarize', 'wong2019_mnist_robust', 'wong2019_mnist_vanilla']
    >>> "mnist_cnn" in list_models(pretrained=False)
    True
    """  # noqa: E501  (doctest output lines cannot be wrapped)
    names = sorted(ZOO) if pretrained else MODELS.names()
    return fnmatch.filter(names, pattern)


def _is_path(spec: str) -> bool:
    """A checkpoint file rather than an architecture name: it exists, has a path separator, or
    ends like a checkpoint (so a mistyped path is reported as a missing file)."""
    if spec.startswith(ZOO_PREFIX):
        return False
    has_separator = os.sep in spec or "/" in spec
    return Path(spec).exists() or has_separator or spec.endswith(CHECKPOINT_SUFFIXES)

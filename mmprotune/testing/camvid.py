"""A tiny CamVid-layout folder (:func:`make_camvid`) for tests of
:class:`~mmprotune.datasets.CamVidDataset` and the CamVid configs."""
from pathlib import Path
from typing import Dict, List, Optional, Union

import numpy as np
from PIL import Image

from ..datasets import CamVidDataset

#: Side of the square label blocks: labels are 6 x 8 blocks, 48 x 64 px.
BLOCK = 8
#: Default image names per split (real CamVid names).
NAMES = dict(
    train=['0001TP_006690', '0006R0_f02430', '0016E5_00390'],
    val=['0016E5_07959', '0016E5_08640'])
#: Colour of void pixels in the images.
VOID_COLOUR = (0, 0, 0)


def _label(rng: np.random.Generator) -> np.ndarray:
    """48 x 64 uint8 label of 8 x 8 blocks; every value 0-11 is on 4."""
    blocks = rng.permutation(np.repeat(np.arange(12), 4)).reshape(6, 8)
    return np.kron(blocks, np.ones((BLOCK, BLOCK), int)).astype(np.uint8)


def make_camvid(root: Union[str, Path],
                names: Optional[Dict[str, List[str]]] = None,
                seed: int = 0) -> Path:
    """Write a CamVid-layout folder under ``root``: for each split of
    ``names`` (default :data:`NAMES`), ``<split>/<name>.png`` images and
    ``<split>annot/<name>.png`` labels of 48 x 64 px. Each label is a grid of
    8 x 8 blocks in which every value 0-11 (void included) is on 4 blocks;
    the image paints each block in its class's palette colour (void in
    :data:`VOID_COLOUR`), so a transformed image tells the label each of its
    pixels should have. Returns ``root``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    palette = np.array(CamVidDataset.METAINFO['palette'] + [VOID_COLOUR],
                       np.uint8)
    for split, split_names in (names or NAMES).items():
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / f'{split}annot').mkdir(exist_ok=True)
        for name in split_names:
            label = _label(rng)
            Image.fromarray(palette[label]).save(root / split / f'{name}.png')
            Image.fromarray(label).save(root / f'{split}annot' / f'{name}.png')
    return root

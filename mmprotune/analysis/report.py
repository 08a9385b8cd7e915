"""The cost report of ``tools/report.py``: the figures of
:func:`mmprotune.analysis.benchmark.measure_side_by_side` as a markdown table
and a bar chart of ratios to a reference method."""
import io

from ..utils import atomic_write


#: (label, key, scale, unit) of the table's columns.
COLUMNS = (
    ('trainable params', 'trainable_params', 1e6, 'M'),
    ('FLOPs backbone+neck', 'flops_backbone_neck', 1e9, 'G'),
    ('train step', 'train_step_s', 1e-3, 'ms'),
    ('backbone fwd+bwd', 'backbone_step_s', 1e-3, 'ms'),
    ('inference', 'inference_s', 1e-3, 'ms'),
    ('peak memory (CUDA, train step)', 'cuda_peak_bytes', 2**20, 'MiB'),
    ('peak RSS (process, train step)', 'peak_rss_bytes', 2**20, 'MiB'),
    ('saved for backward (model)', 'saved_bytes_model', 2**20, 'MiB'),
    ('saved for backward (backbone)', 'saved_bytes_backbone', 2**20, 'MiB'),
    ('kept for backward (backbone, allocator)', 'retained_bytes_backbone',
     2**20, 'MiB'),
    ('peak in backbone forward (CUDA)', 'cuda_peak_bytes_backbone', 2**20,
     'MiB'),
    ('checkpoint (full)', 'checkpoint_bytes_full', 2**20, 'MiB'),
    ('checkpoint (delta)', 'checkpoint_bytes_delta', 2**20, 'MiB'),
)
#: Columns whose ratio is taken to another figure of the reference: a delta
#: checkpoint replaces the reference's full one.
RATIO_TO = dict(checkpoint_bytes_delta='checkpoint_bytes_full')


def ratio(result: dict, ref: dict, key: str):
    """``result[key]`` over the reference's figure (None if either is
    missing)."""
    base = ref.get(RATIO_TO.get(key, key))
    value = result.get(key)
    return value / base if value is not None and base else None


def markdown(results: dict, reference: str) -> str:
    """The table of :data:`COLUMNS`, one row per method (``results``: name
    -> figures), with ratios against ``reference``."""
    ref = results[reference]
    lines = [
        '| method | ' + ' | '.join(c[0] for c in COLUMNS) + ' |',
        '| --- |' + ' ---: |' * len(COLUMNS),
    ]
    for name, result in results.items():
        cells = []
        for _, key, scale, unit in COLUMNS:
            value = result.get(key)  # reports of older versions lack some
            if value is None:
                cells.append('–')
                continue
            cell = f'{value / scale:.1f} {unit}'
            to_ref = ratio(result, ref, key)
            if name != reference and to_ref is not None:
                cell += f' ({to_ref:.2f}×)'
            cells.append(cell)
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def save_figure(fig, path: str) -> None:
    """Save a matplotlib figure as PNG to ``path`` atomically (rendered in
    memory, then :func:`mmprotune.utils.atomic_write`), and close it."""
    import matplotlib.pyplot as plt
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=120)
    plt.close(fig)
    atomic_write(buffer.getvalue(), path)


def plot(results: dict, reference: str, title: str, path: str) -> None:
    """Bars of each method's ratios to ``reference``, per column that the
    reference has, saved to ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ref = results[reference]
    keys = [c for c in COLUMNS if ref.get(RATIO_TO.get(c[1], c[1]))]
    fig, ax = plt.subplots(figsize=(2 + 1.6 * len(keys), 4))
    width = 0.8 / len(results)
    for i, (name, result) in enumerate(results.items()):
        ratios = [ratio(result, ref, k) or 0 for _, k, _, _ in keys]
        ax.bar([j + i * width for j in range(len(keys))], ratios, width,
               label=name)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(keys))])
    ax.set_xticklabels([c[0] for c in keys], rotation=30, ha='right',
                       fontsize=8)
    ax.axhline(1.0, color='black', linewidth=0.5)
    ax.set_ylabel(f'ratio to {reference}')
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)

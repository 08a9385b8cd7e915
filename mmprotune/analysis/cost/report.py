"""The cost report of ``tools/report.py``: the figures of
:func:`mmprotune.analysis.cost.bench.measure_side_by_side` as a markdown table
and a chart of ratios to a reference method, both drawn from
``report.json`` (:func:`redraw`)."""
import json
import os.path as osp

from ..plotting import method_colours, save_figure

#: (label, key, scale, unit) of the table's columns.
COLUMNS = (
    ('trainable params', 'trainable_params', 1e6, 'M'),
    ('FLOPs backbone+neck', 'flops_backbone_neck', 1e9, 'G'),
    ('train step', 'train_step_s', 1e-3, 'ms'),
    ('backbone fwd+bwd', 'backbone_step_s', 1e-3, 'ms'),
    ('inference', 'inference_s', 1e-3, 'ms'),
    ('peak memory (allocator, train step)', 'peak_bytes', 2**20, 'MiB'),
    ('peak above head-only (share of full\'s)', 'peak_above_head_only', 1,
     ''),
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
#: Columns that are already a share, printed as such without a ratio.
SHARES = ('peak_above_head_only', )
#: The chart's panels: title -> the keys of :data:`COLUMNS` it shows.
PANELS = {
    'Time': ('train_step_s', 'backbone_step_s', 'inference_s'),
    'Memory': ('peak_bytes', 'peak_rss_bytes', 'saved_bytes_model',
               'saved_bytes_backbone', 'retained_bytes_backbone',
               'cuda_peak_bytes_backbone'),
    'Parameters and FLOPs': ('trainable_params', 'flops_backbone_neck'),
    'Checkpoint': ('checkpoint_bytes_full', 'checkpoint_bytes_delta'),
}


def ratio(result: dict, ref: dict, key: str):
    """``result[key]`` over the reference's figure (None if either is
    missing)."""
    base = ref.get(RATIO_TO.get(key, key))
    value = result.get(key)
    return value / base if value is not None and base else None


def peak_above_head_only(results: dict):
    """The whole-step peak of each method above head-only's (a frozen
    backbone's), as a share of full fine-tuning's: ``(peak - head-only's
    peak) / full's peak``, of the allocator's peak (``peak_bytes``).

    Returns:
        dict: method -> that share, for every method with a peak; empty
        without ``full`` and ``head-only`` peaks.
    """
    full, frozen = (results.get(m, {}).get('peak_bytes')
                    for m in ('full', 'head-only'))
    if not full or frozen is None:
        return {}
    return {name: (result['peak_bytes'] - frozen) / full
            for name, result in results.items()
            if result.get('peak_bytes') is not None}


def with_derived_figures(results: dict) -> dict:
    """``results`` of a ``report.json`` with the figures derived from them
    (:func:`peak_above_head_only`); a new dict, the input is unchanged."""
    results = {name: dict(result) for name, result in results.items()}
    for name, share in peak_above_head_only(results).items():
        results[name]['peak_above_head_only'] = share
    return results


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
            value = result.get(key)  # e.g. no share without full's peak
            if value is None:
                cells.append('–')
                continue
            if key in SHARES:
                cells.append(f'{value:.2f}')
                continue
            cell = f'{value / scale:.1f} {unit}'
            to_ref = ratio(result, ref, key)
            if name != reference and to_ref is not None:
                cell += f' ({to_ref:.2f}×)'
            cells.append(cell)
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def _draw_panel(ax, results: dict, reference: str, title: str, columns,
                colours: dict) -> None:
    """Horizontal bars of the ratios to ``reference``: a group per column
    (top to bottom), a bar per method; each bar labelled with its ratio, the
    reference's with its value and unit."""
    ref = results[reference]
    height = 0.8 / len(results)
    longest = 1.0
    for row, (label, key, scale, unit) in enumerate(columns):
        for i, (name, result) in enumerate(results.items()):
            to_ref = ratio(result, ref, key)
            if to_ref is None:
                continue
            y = row + (i - (len(results) - 1) / 2) * height
            ax.barh(y, to_ref, height * 0.9, color=colours[name])
            text = f'{to_ref:.2f}×'
            if name == reference:
                value = result[key] / scale
                text = f'{value:,.{0 if value >= 100 else 1}f} {unit}'
            ax.text(to_ref, y, ' ' + text, va='center', fontsize=7)
            longest = max(longest, to_ref)
    ax.set_yticks(range(len(columns)))
    # a ratio to another figure of the reference says which
    by_key = {c[1]: c[0] for c in COLUMNS}
    ax.set_yticklabels([
        label if key not in RATIO_TO else
        f'{label}\n(to {reference}\'s {by_key[RATIO_TO[key]]})'
        for label, key, _, _ in columns
    ], fontsize=8)
    ax.set_ylim(len(columns) - 0.5, -0.5)
    ax.set_xlim(0, longest * 1.3)
    ax.axvline(1.0, color='black', linewidth=0.6, linestyle='--')
    ax.set_title(title, fontsize=9, loc='left')
    ax.tick_params(axis='x', labelsize=7)
    for side in ('top', 'right'):
        ax.spines[side].set_visible(False)


def plot(results: dict, reference: str, title: str, path: str) -> None:
    """The ratios of each method to ``reference`` in the panels of
    :data:`PANELS` (the columns the reference has a figure for), each method
    in its colour (:func:`method_colours`), saved as PNG to ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ref = results[reference]
    by_key = {c[1]: c for c in COLUMNS}
    panels = {
        name: [by_key[k] for k in keys if ref.get(RATIO_TO.get(k, k))]
        for name, keys in PANELS.items()
    }
    panels = {name: cols for name, cols in panels.items() if cols}
    rows = [list(panels.items())[i:i + 2] for i in range(0, len(panels), 2)]
    heights = [max(len(cols) for _, cols in row) for row in rows]
    per_group = 0.25 + 0.18 * len(results)
    top = 0.55  # inches for the title and the legend
    fig_height = top + 0.7 * len(rows) + per_group * sum(heights)
    fig, axes = plt.subplots(
        len(rows), 2, squeeze=False,
        figsize=(11, fig_height),
        gridspec_kw=dict(height_ratios=heights))
    colours = method_colours(list(results))
    for row, axes_row in zip(rows, axes):
        for (name, cols), ax in zip(row, axes_row):
            _draw_panel(ax, results, reference, name, cols, colours)
        for ax in axes_row[len(row):]:
            ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(f'ratio to {reference}', fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[m]) for m in results]
    fig.suptitle(title, fontsize=10, y=1 - 0.1 / fig_height, va='top')
    fig.legend(handles, list(results), loc='upper center', ncol=len(results),
               fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.35 / fig_height))
    fig.tight_layout(rect=(0, 0, 1, 1 - top / fig_height))
    save_figure(fig, path)


def report_title(report: dict) -> str:
    """The title of a ``report.json``'s table and chart: its configs, batch,
    reference and, where recorded, the machine (CPU timings differ by CPU
    model)."""
    size, batch = report['img_size'], report['batch_size']
    title = (f'{" / ".join(report["configs"])}: batch {batch}x3x{size}x'
             f'{size}, ratios to {report["reference"]}')
    machine = report.get('machine')
    if machine:
        device = machine['cuda'] or machine['processor']
        title += (f'; {device}, torch {machine["torch"]}, '
                  f'{machine["torch_threads"]} threads')
    return title


def redraw(json_path: str) -> str:
    """Draw the chart (``report.png`` beside ``json_path``) from a
    ``report.json`` alone, without measuring; return the text the run
    printed: the title and the markdown table (:func:`markdown`)."""
    with open(json_path, encoding='utf-8') as f:
        report = json.load(f)
    title = report_title(report)
    results = with_derived_figures(report['results'])
    reference = report['reference']
    plot(results, reference, title,
         osp.join(osp.dirname(osp.abspath(json_path)), 'report.png'))
    return f'{title}:\n\n{markdown(results, reference)}'

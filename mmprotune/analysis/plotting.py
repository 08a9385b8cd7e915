"""What the plots of the cost report and the transfer benchmark share: a
fixed colour per method (:func:`method_colours`) and atomic PNG writing
(:func:`save_figure`)."""
import io
import itertools

from ..utils import atomic_write

#: A fixed colour per method, the same in every chart (methods of configs
#: compared as they are take :data:`OTHER_COLOURS` in turn).
METHOD_COLOURS = {
    'full': '#525252',
    'head-only': '#b0b0b0',
    'protune@autograd': '#9ecae1',
    'protune': '#08519c',
    'bitfit': '#2ca02c',
    'lora': '#ff7f0e',
    'adaptformer': '#9467bd',
    'conv-adapter': '#8c564b',
    'mona': '#e377c2',
    'vpt': '#bcbd22',
}
OTHER_COLOURS = ('#d62728', '#17becf', '#e6ab02', '#1b9e77')


def save_figure(fig, path: str, dpi: int = 120) -> None:
    """Save a matplotlib figure as PNG to ``path`` atomically (rendered in
    memory at ``dpi``, then :func:`mmprotune.utils.atomic_write`), and
    close it."""
    import matplotlib.pyplot as plt
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=dpi)
    plt.close(fig)
    atomic_write(buffer.getvalue(), path)


def method_colours(methods) -> dict:
    """``methods`` -> their colours: :data:`METHOD_COLOURS`, else the next
    of :data:`OTHER_COLOURS` (in turn, repeating)."""
    others = itertools.cycle(OTHER_COLOURS)
    return {m: METHOD_COLOURS.get(m) or next(others) for m in methods}

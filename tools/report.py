"""Side-by-side cost of tuning methods on the real models of configs.

Two ways to name the methods:

    # derive full / head-only / naive and efficient Pro-tuning (and PEFT
    # baselines, e.g. lora, bitfit) from one Pro-tuning config
    python tools/report.py configs/retinanet/retinanet_protune-r50_fpn_1x_coco.py \
        --methods full,head-only,protune-naive,protune,lora --img-size 256
    # or compare configs as they are (the first is the reference)
    python tools/report.py CONFIG_A CONFIG_B ...

Each method runs in its own process, on the same input batch; the timed steps
are interleaved (one step of each method per round, medians over rounds).
Prints a markdown table with ratios against the reference (full fine-tuning
when ``--methods`` includes it), writes ``report.json`` and ``report.png``
(bar chart of the ratios) into ``--out-dir``.
"""
import argparse
import os.path as osp
from pathlib import Path

import mmengine
from mmengine.config import Config
from rich.progress import track

from mmprotune.analysis.benchmark import (METHOD_ALIASES, METHODS,
                                          make_batch, measure_side_by_side,
                                          method_variants, parse_methods,
                                          peft_methods)
from mmprotune.analysis.report import markdown, plot

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument(
        '--methods',
        type=parse_methods,
        help='comma-separated methods derived from the one config given: '
        f'{", ".join(METHODS)} and the PEFT baselines '
        f'{", ".join(sorted(peft_methods()))} (old spellings accepted: '
        f'{", ".join(f"{a}={m}" for a, m in METHOD_ALIASES.items())})')
    parser.add_argument('--img-size', type=int, default=512)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--steps', type=int, default=5,
                        help='timed steps (the median is reported)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--out-dir', default='work_dirs/report')
    return parser.parse_args()


def variants(args):
    if args.methods:
        if len(args.configs) != 1:
            raise ValueError('--methods takes exactly one config')
        return method_variants(Config.fromfile(args.configs[0]), args.methods)
    return {Path(c).stem: Config.fromfile(c) for c in args.configs}


def main():
    args = parse_args()
    configs = variants(args)
    first = next(iter(configs.values()))
    batch = make_batch(first, args.batch_size, args.img_size)
    results = measure_side_by_side(
        configs, batch, args.steps, args.warmup,
        lambda rounds: track(rounds, description='measuring'))
    for result in results.values():
        result['trainable_params'] = result['params']['all']['trainable']
    reference = 'full' if 'full' in results else next(iter(results))
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    # mmengine's dump turns numpy scalars into Python numbers, and writes
    # atomically once mmprotune is imported (AtomicLocalBackend)
    mmengine.dump(dict(img_size=args.img_size, batch_size=args.batch_size,
                       reference=reference, results=results),
                  osp.join(args.out_dir, 'report.json'), indent=2)
    title = (f'{" / ".join(Path(c).stem for c in args.configs)}: batch '
             f'{args.batch_size}x3x{args.img_size}x{args.img_size}, '
             f'ratios to {reference}')
    plot(results, reference, title, osp.join(args.out_dir, 'report.png'))
    print(f'\n{title}:\n')
    print(markdown(results, reference))


if __name__ == '__main__':
    main()

"""Side-by-side cost of tuning methods on the real models of configs.

Two ways to name the methods:

    # derive full / head-only / Pro-tuning with each backward (and PEFT
    # baselines, e.g. lora, bitfit) from one Pro-tuning config
    python tools/report.py configs/retinanet/retinanet_protune-r50_fpn_1x_coco.py \
        --methods full,head-only,protune@autograd,protune,lora --img-size 256
    # or compare configs as they are (the first is the reference)
    python tools/report.py CONFIG_A CONFIG_B ...
    # draw report.png and print the table again from a report.json
    python tools/report.py --from-json docs/report/mask-rcnn_r50/report.json

Each method runs in its own process, on the same input batch; the timed steps
are interleaved (one step of each method per round, medians over rounds).
Prints a markdown table with ratios against the reference (full fine-tuning
when ``--methods`` includes it), writes ``report.json`` and ``report.png``
(the ratios, in a time, a memory, a parameters and a checkpoint panel) into
``--out-dir``. ``--from-json`` draws ``report.png`` and prints the table
again from a ``report.json`` without measuring.
"""
import argparse
import os.path as osp
from pathlib import Path

import mmengine
from mmengine.config import Config
from rich.progress import track

from mmprotune.analysis.cost.bench import make_batch, measure_side_by_side
from mmprotune.analysis.cost.report import redraw
from mmprotune.analysis.machine import machine
from mmprotune.analysis.methods import (REPORT_METHODS, method_variants,
                                        parse_methods, peft_methods)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='*', help='config files')
    parser.add_argument(
        '--methods',
        type=parse_methods,
        help='comma-separated methods derived from the one config given: '
        f'{", ".join(REPORT_METHODS)} and the PEFT baselines '
        f'{", ".join(sorted(peft_methods()))}')
    parser.add_argument('--img-size', type=int, default=512)
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--steps', type=int, default=5,
                        help='timed steps (the median is reported)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--out-dir', default='work_dirs/report')
    parser.add_argument(
        '--from-json',
        metavar='JSON',
        help='draw report.png (beside JSON) and print the table again from '
        'this report.json, without measuring (takes no config)')
    args = parser.parse_args()
    if args.from_json:
        if args.configs:
            parser.error('--from-json takes no config, got '
                         f'{" ".join(args.configs)}')
        if not osp.isfile(args.from_json):
            parser.error(f'--from-json: no such file: {args.from_json}')
    elif not args.configs:
        parser.error('give config files, or --from-json')
    return args


def variants(args):
    if args.methods:
        if len(args.configs) != 1:
            raise ValueError('--methods takes exactly one config')
        return method_variants(Config.fromfile(args.configs[0]), args.methods)
    return {Path(c).stem: Config.fromfile(c) for c in args.configs}


def main():
    args = parse_args()
    if args.from_json:
        print(redraw(args.from_json))
        return
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
    json_path = osp.join(args.out_dir, 'report.json')
    mmengine.dump(dict(configs=[Path(c).stem for c in args.configs],
                       img_size=args.img_size, batch_size=args.batch_size,
                       reference=reference, machine=machine(),
                       results=results),
                  json_path, indent=2)
    # drawn from the JSON just written, as --from-json draws them
    print('\n' + redraw(json_path))


if __name__ == '__main__':
    main()
